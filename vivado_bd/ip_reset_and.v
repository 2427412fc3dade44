// ip_reset_and: the network IP's active-low reset, the system reset AND the IP
// reset GPIO's bit (board/ip_reset.py). A module reference, as stream_timer.v is,
// so the design needs no library gate IP: util_vector_logic, which it used
// before, is superseded by Vivado 2024.2's inline-HDL utility IPs and reported
// removed in a 2026 release. The port names are util_vector_logic's.

`timescale 1ns / 1ps

module ip_reset_and (
    input  wire Op1,  // the system reset: proc_sys_reset peripheral_aresetn
    input  wire Op2,  // the IP reset GPIO's gpio_io_o[0] (1 at power-up)
    output wire Res   // the IP's ap_rst_n (and the latency counter's ip_aresetn)
);
    assign Res = Op1 & Op2;
endmodule
