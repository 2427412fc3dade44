# `vivado -mode batch -source SCRIPT -tclargs ARGS...` for tests: tclsh with the
# stand-in commands, then SCRIPT with argv set. Like Vivado, an error in SCRIPT
# prints "ERROR: ..." and exits 1. STANDIN_GRAPH names a file for the design graph.
#
#   tclsh vivado_batch.tcl SCRIPT ARGS...

source [file join [file dirname [file normalize [info script]]] vivado_standin.tcl]
::standin::configure_from_env
set script [lindex $argv 0]
set argv [lrange $argv 1 end]
set argc [llength $argv]
set code [catch {source $script} msg]
if {[info exists ::env(STANDIN_GRAPH)]} {
    ::standin::dump $::env(STANDIN_GRAPH)
}
if {$code == 1} {
    puts "ERROR: $msg"
    exit 1
}
exit 0
