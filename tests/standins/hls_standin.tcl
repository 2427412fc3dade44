# Stand-in HLS Tcl commands for tests: `tclsh hls_standin.tcl SCRIPT` sources SCRIPT
# (build_hls.tcl) with the project commands it uses, each checking its arguments, and
# leaves the output layout of the version in STANDIN_VERSION under the project:
#
#   PRJ/solution1/syn/report/csynth.xml   (every version)
#   PRJ/solution1/impl/ip/component.xml   (every version; the unpacked IP)
#   PRJ/solution1/impl/ip/VENDOR_LIBRARY_TOP_VERSION.zip   (Vivado HLS 2020.1)
#   PRJ/solution1/impl/export.zip                          (Vitis HLS)
#
# Like the tools, an error in SCRIPT prints "ERROR: ..." and exits 1. Environment:
# STANDIN_TOOL (vivado_hls, vitis_hls, vitis-run), STANDIN_VERSION, STANDIN_Y2K22_BROKEN,
# STANDIN_HLS_WARNINGS, STANDIN_CSYNTH (see the `hls` stand-in), STANDIN_IP_VLNV (export
# that IP instead of the one the script names).

namespace eval ::hls {
    variable project ""
    variable solution ""
    variable top ""
    variable files {}
    variable part ""
    variable period ""
    variable synthesised 0
}

proc ::hls::need {what value} {
    if {$value eq ""} { error "\[HLS 200-101\] stand-in: $what is not set" }
}

proc ::hls::option {args name} {
    set i [lsearch -exact $args $name]
    if {$i < 0 || $i + 1 >= [llength $args]} { error "\[HLS 200-101\] stand-in: missing $name" }
    return [lindex $args [expr {$i + 1}]]
}

proc open_project {args} {
    set name [lindex $args end]
    if {"-reset" in $args} { file delete -force $name }
    file mkdir $name
    set ::hls::project $name
}

proc set_top {name} { set ::hls::top $name }

proc add_files {args} {
    set file [lindex $args 0]
    if {![file exists $file]} { error "\[HLS 200-1070\] Cannot find the file $file" }
    lappend ::hls::files $file
}

proc open_solution {args} {
    ::hls::need "the project (open_project)" $::hls::project
    set ::hls::solution [file join $::hls::project [lindex $args end]]
    if {"-reset" in $args} { file delete -force $::hls::solution }
    file mkdir $::hls::solution
}

proc set_part {part} { set ::hls::part $part }

proc create_clock {args} { set ::hls::period [::hls::option $args -period] }

proc config_array_partition {args} {
    # UG1399: -maximum_size is unsupported in Vitis HLS
    if {"-maximum_size" in $args && $::env(STANDIN_TOOL) ne "vivado_hls"} {
        error "\[HLS 200-1023\] Unknown option '-maximum_size'"
    }
}

proc config_compile {args} {}

# UG1399 (config_rtl): -reset takes none, control, state or all, in Vivado HLS and Vitis HLS.
proc config_rtl {args} {
    set reset [::hls::option $args -reset]
    if {$reset ni {none control state all}} {
        error "\[HLS 200-1023\] config_rtl -reset: '$reset' is not none, control, state or all"
    }
    set ::hls::reset $reset
}

proc csynth_design {} {
    foreach {what value} [list top $::hls::top part $::hls::part clock $::hls::period \
                              solution $::hls::solution] {
        ::hls::need $what $value
    }
    if {![llength $::hls::files]} { error "\[HLS 200-101\] stand-in: no source files" }
    if {[info exists ::env(STANDIN_HLS_WARNINGS)]} {
        foreach line [split $::env(STANDIN_HLS_WARNINGS) |] { puts $line }
    }
    set numbers {1000 1000 1500 1500}
    if {[info exists ::env(STANDIN_CSYNTH)]} { set numbers $::env(STANDIN_CSYNTH) }
    lassign $numbers ii_min ii_max best worst
    set dsp [expr {$::env(STANDIN_TOOL) eq "vivado_hls" ? "DSP48E" : "DSP"}]
    set report [file join $::hls::solution syn report]
    file mkdir $report
    set f [open [file join $report csynth.xml] w]
    puts $f "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<profile>
  <ReportVersion><Version>$::env(STANDIN_VERSION)</Version></ReportVersion>
  <UserAssignments><Part>$::hls::part</Part><TopModelName>$::hls::top</TopModelName><TargetClockPeriod>$::hls::period</TargetClockPeriod></UserAssignments>
  <PerformanceEstimates>
    <SummaryOfTimingAnalysis><unit>ns</unit><EstimatedClockPeriod>7.250</EstimatedClockPeriod></SummaryOfTimingAnalysis>
    <SummaryOfOverallLatency><unit>clock cycles</unit><Best-caseLatency>$best</Best-caseLatency><Average-caseLatency>$best</Average-caseLatency><Worst-caseLatency>$worst</Worst-caseLatency><Interval-min>$ii_min</Interval-min><Interval-max>$ii_max</Interval-max></SummaryOfOverallLatency>
  </PerformanceEstimates>
  <AreaEstimates><Resources><BRAM_18K>4</BRAM_18K><$dsp>12</$dsp><FF>3456</FF><LUT>7890</LUT><URAM>0</URAM></Resources></AreaEstimates>
</profile>"
    close $f
    set ::hls::synthesised 1
    puts "INFO: \[HLS 200-111\] Finished Command csynth_design (stand-in)"
}

proc export_design {args} {
    if {!$::hls::synthesised} { error "\[HLS 200-101\] stand-in: export_design before csynth_design" }
    if {[::hls::option $args -format] ne "ip_catalog"} { error "stand-in: only -format ip_catalog" }
    set vendor [::hls::option $args -vendor]
    set library [::hls::option $args -library]
    set version [::hls::option $args -version]
    set name $::hls::top
    if {[info exists ::env(STANDIN_IP_VLNV)]} {
        # a project that exports another IP than its metadata names
        lassign [split $::env(STANDIN_IP_VLNV) :] vendor library name version
    }
    if {$::env(STANDIN_Y2K22_BROKEN)} {
        # what Vivado HLS 2020.1 prints after 2021 without the AR 76960 patch
        set revision [clock format [clock seconds] -format %y%m%d%H%M]
        puts "bad lexical cast: source type value could not be interpreted as target"
        puts "    while executing \"rdi::set_property core_revision $revision {component component_1}\""
        puts "ERROR: \[IMPL 213-28\] Failed to generate IP."
        error "command 'ap_source' returned error code"
    }
    set impl [file join $::hls::solution impl]
    file mkdir [file join $impl ip]
    set f [open [file join $impl ip component.xml] w]
    puts $f "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<spirit:component xmlns:spirit=\"http://www.spiritconsortium.org/XMLSchema/SPIRIT/1685-2009\">
  <spirit:vendor>$vendor</spirit:vendor>
  <spirit:library>$library</spirit:library>
  <spirit:name>$name</spirit:name>
  <spirit:version>$version</spirit:version>
</spirit:component>"
    close $f
    if {$::env(STANDIN_TOOL) eq "vivado_hls"} {
        set zip [file join $impl ip "${vendor}_${library}_${::hls::top}_[string map {. _} $version].zip"]
    } else {
        set zip [file join $impl export.zip]
    }
    close [open $zip w]
    puts "INFO: \[HLS 200-111\] Finished Command export_design (stand-in)"
}

set script [lindex $argv 0]
set argv {}
set argc 0
if {[catch {source $script} msg]} {
    puts "ERROR: $msg"
    exit 1
}
exit 0
