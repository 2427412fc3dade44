# Batch build of the PYNQ-Z2 overlay:
#
#   vivado -mode batch -source build_overlay.tcl -tclargs PARAMS.tcl
#
# PARAMS.tcl (written by pynq_mnist.vivado_bd.params) sets `params`. Run in an
# empty work folder: the project goes to ./project; NAME.bit, NAME.hwh,
# utilization.rpt and timing_summary.rpt go to the params' out_dir. Every
# failure ends in `error`, so Vivado exits non-zero; slack is judged by the
# caller from timing_summary.rpt. Lines starting "pynq-mnist:" are progress.

set here [file dirname [file normalize [info script]]]
source [file join $here pynq_z2_ps7.tcl]
source [file join $here pynq_z2_design.tcl]
if {[llength $argv] != 1} {
    error "usage: vivado -mode batch -source build_overlay.tcl -tclargs PARAMS.tcl"
}
source [lindex $argv 0]

proc step {msg} {
    puts "pynq-mnist: $msg"
    flush stdout
}

proc check_run {run} {
    if {[get_property PROGRESS $run] ne "100%"} {
        error "run $run stopped: [get_property STATUS $run]; see\
               [file join [get_property DIRECTORY $run] runme.log]"
    }
}

set name [dict get $params name]
set bd [dict get $params bd_name]
set out_dir [dict get $params out_dir]
set proj_dir [file normalize project]

step "Vivado [version -short]: project $name for [dict get $params part]"
create_project -force $name $proj_dir -part [dict get $params part]
set board_parts [lsort [get_board_parts -quiet [dict get $params board_part_pattern]]]
set use_board_preset [llength $board_parts]
if {$use_board_preset} {
    set_property board_part [lindex $board_parts end] [current_project]
    step "PS from the board preset of [lindex $board_parts end]"
} else {
    step "no PYNQ-Z2 board files installed: PS from the shipped configuration (pynq_z2_ps7.tcl)"
}
if {[dict get $params ip_backend] eq "rtl"} {
    # The RTL IP: its Verilog (the wrapper and da4ml's network) as project sources.
    set rtl [dict get $params ip_repo]
    add_files -norecurse {*}[glob [file join $rtl *.v]] {*}[glob [file join $rtl net *.v]]
    update_compile_order -fileset sources_1
    step "RTL IP: module [dict get $params ip_top] from $rtl"
} else {
    set_property ip_repo_paths [list [dict get $params ip_repo]] [current_project]
    update_ip_catalog -rebuild
    if {[llength [get_ipdefs -quiet [dict get $params ip_vlnv]]] == 0} {
        error "IP [dict get $params ip_vlnv] is not in the HLS export at [dict get $params ip_repo]"
    }
}

step "block design: PS + AXI DMA + [dict get $params ip_vlnv], FCLK0\
      [dict get $params fclk0_mhz] MHz, streams [dict get $params in_width_bits] in /\
      [dict get $params out_width_bits] out bits"
add_files -norecurse [dict get $params ip_reset_and_rtl]
update_compile_order -fileset sources_1
if {[dict get $params latency_counter]} {
    add_files -norecurse [dict get $params timer_rtl]
    update_compile_order -fileset sources_1
    step "latency counter: [file tail [dict get $params timer_rtl]] at [dict get $params timer_base]"
}
create_bd_design $bd
::pynq_mnist::create_design $params $use_board_preset
validate_bd_design
save_bd_design
set bd_file [get_files $bd.bd]
generate_target all $bd_file
add_files -norecurse [make_wrapper -files $bd_file -top]
set_property top ${bd}_wrapper [current_fileset]
update_compile_order -fileset sources_1

step "synthesis, implementation, bitstream ([dict get $params jobs] jobs)"
launch_runs impl_1 -to_step write_bitstream -jobs [dict get $params jobs]
wait_on_run impl_1
check_run [get_runs synth_1]
check_run [get_runs impl_1]

step "reports and outputs into $out_dir"
open_run impl_1
file mkdir $out_dir
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -file [file join $out_dir timing_summary.rpt]
set bit [file join [get_property DIRECTORY [get_runs impl_1]] ${bd}_wrapper.bit]
if {![file exists $bit]} {
    error "impl_1 finished without a bitstream at $bit"
}
# The hardware handoff is under .gen (Vivado 2020.2 on) or .srcs (2020.1).
set hwh [lindex [glob -nocomplain \
    [file join $proj_dir $name.gen sources_1 bd $bd hw_handoff $bd.hwh] \
    [file join $proj_dir $name.srcs sources_1 bd $bd hw_handoff $bd.hwh]] 0]
if {$hwh eq ""} {
    error "no $bd.hwh under $proj_dir: generate_target did not write the hardware handoff"
}
file copy -force $bit [file join $out_dir $name.bit]
file copy -force $hwh [file join $out_dir $name.hwh]
step "done: $name.bit and $name.hwh"
