// stream_timer: the IP's own latency, counted in the fabric.
//
// Sits on both AXI4-Stream paths of the network IP (DMA -> in -> IP, IP -> out
// -> DMA) and passes them through as plain wires: no register, no added
// latency, data unchanged. It counts clock cycles from the first input beat of
// a run to the output beat that carries TLAST (both ends included) and keeps
// the numbers of the last finished run in AXI4-Lite registers:
//
//   0x00 ID         0x53544D52 ("STMR"): a driver's check that it reads this block
//   0x04 CYCLES     cycles of the last run, first input beat .. last output beat
//   0x08 RUNS       runs finished since reset
//   0x0C IN_BEATS   input beats of the last run
//   0x10 OUT_BEATS  output beats of the last run
//   0x14 BUSY       1 while a run is in progress
//
// A run starts at an input beat while idle and ends at an output beat with
// TLAST. Counters saturate at 2^32-1. Registers are read-only; writes are
// acknowledged and ignored. One clock (the IP's) and two active-low synchronous
// resets: aresetn (the system reset) clears everything; ip_aresetn (the IP's own
// reset, the block design's ip_reset_and output) ends a run in progress, so the
// run a failed transfer left open (no output TLAST will come: the IP dropped its
// frame) is not counted into the next one. The last finished run's registers
// and RUNS stay.

`timescale 1ns / 1ps

module stream_timer #(
    parameter IN_BYTES  = 8,
    parameter OUT_BYTES = 8
) (
    // Vivado: one clock and one active-low reset for every interface of the module
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 aclk CLK" *)
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis_in:m_axis_in:s_axis_out:m_axis_out:s_axi, ASSOCIATED_RESET aresetn:ip_aresetn" *)
    input  wire                   aclk,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire                   aresetn,
    (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 ip_aresetn RST" *)
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire                   ip_aresetn,
    // The two stream paths, DMA -> s_axis_in -> m_axis_in -> IP and
    // IP -> s_axis_out -> m_axis_out -> DMA, declared signal by signal. Vivado
    // infers each AXI4-Stream interface from the <bus>_t<signal> names (UG994).
    input  wire [8*IN_BYTES-1:0]  s_axis_in_tdata,
    output wire [8*IN_BYTES-1:0]  m_axis_in_tdata,
    input  wire [8*OUT_BYTES-1:0] s_axis_out_tdata,
    output wire [8*OUT_BYTES-1:0] m_axis_out_tdata,
    input  wire [IN_BYTES-1:0]    s_axis_in_tkeep,
    output wire [IN_BYTES-1:0]    m_axis_in_tkeep,
    input  wire [OUT_BYTES-1:0]   s_axis_out_tkeep,
    output wire [OUT_BYTES-1:0]   m_axis_out_tkeep,
    input  wire                   s_axis_in_tlast, s_axis_in_tvalid, m_axis_in_tready,
    output wire                   m_axis_in_tlast, m_axis_in_tvalid, s_axis_in_tready,
    input  wire                   s_axis_out_tlast, s_axis_out_tvalid, m_axis_out_tready,
    output wire                   m_axis_out_tlast, m_axis_out_tvalid, s_axis_out_tready,
    // AXI4-Lite registers: write address/data/response, then read address/data
    input  wire [4:0]             s_axi_awaddr, s_axi_araddr,
    input  wire [31:0]            s_axi_wdata,
    input  wire [3:0]             s_axi_wstrb,
    input  wire                   s_axi_awvalid, s_axi_wvalid, s_axi_bready,
    input  wire                   s_axi_arvalid, s_axi_rready,
    output wire                   s_axi_awready, s_axi_wready, s_axi_arready,
    output wire [1:0]             s_axi_bresp, s_axi_rresp,
    output reg                    s_axi_bvalid, s_axi_rvalid,
    output reg  [31:0]            s_axi_rdata
);
    localparam [31:0] ID = 32'h53544D52;
    localparam [31:0] MAX = 32'hFFFFFFFF;

    // ---------------------------------------------------------------- pass-through
    assign m_axis_in_tdata   = s_axis_in_tdata;
    assign m_axis_in_tkeep   = s_axis_in_tkeep;
    assign m_axis_in_tlast   = s_axis_in_tlast;
    assign m_axis_in_tvalid  = s_axis_in_tvalid;
    assign s_axis_in_tready  = m_axis_in_tready;
    assign m_axis_out_tdata  = s_axis_out_tdata;
    assign m_axis_out_tkeep  = s_axis_out_tkeep;
    assign m_axis_out_tlast  = s_axis_out_tlast;
    assign m_axis_out_tvalid = s_axis_out_tvalid;
    assign s_axis_out_tready = m_axis_out_tready;

    wire in_beat  = s_axis_in_tvalid & m_axis_in_tready;
    wire out_beat = s_axis_out_tvalid & m_axis_out_tready;
    wire out_last = out_beat & s_axis_out_tlast;

    // ---------------------------------------------------------------- counting
    reg        busy;
    reg [31:0] count, in_count, out_count;        // the run in progress
    reg [31:0] cycles, runs, in_beats, out_beats; // the last finished run

    function [31:0] inc(input [31:0] x, input step);
        inc = (step && x != MAX) ? x + 32'd1 : x;
    endfunction

    always @(posedge aclk) begin
        if (!aresetn) begin
            busy <= 1'b0;
            count <= 0; in_count <= 0; out_count <= 0;
            cycles <= 0; runs <= 0; in_beats <= 0; out_beats <= 0;
        end else if (!ip_aresetn) begin
            busy <= 1'b0;
            count <= 0; in_count <= 0; out_count <= 0;
        end else if (!busy) begin
            if (in_beat) begin
                busy <= 1'b1;
                count <= 32'd1;
                in_count <= 32'd1;
                out_count <= 32'd0;
            end
        end else begin
            count <= inc(count, 1'b1);
            in_count <= inc(in_count, in_beat);
            out_count <= inc(out_count, out_beat);
            if (out_last) begin
                busy <= 1'b0;
                cycles <= inc(count, 1'b1);
                runs <= inc(runs, 1'b1);
                in_beats <= inc(in_count, in_beat);
                out_beats <= inc(out_count, 1'b1);
            end
        end
    end

    // ---------------------------------------------------------------- AXI4-Lite
    assign s_axi_awready = !s_axi_bvalid && s_axi_awvalid && s_axi_wvalid;
    assign s_axi_wready  = s_axi_awready;
    assign s_axi_bresp   = 2'b00;
    assign s_axi_arready = !s_axi_rvalid;
    assign s_axi_rresp   = 2'b00;

    always @(posedge aclk) begin
        if (!aresetn) begin
            s_axi_bvalid <= 1'b0;
            s_axi_rvalid <= 1'b0;
            s_axi_rdata  <= 32'd0;
        end else begin
            if (s_axi_awready)
                s_axi_bvalid <= 1'b1;
            else if (s_axi_bready)
                s_axi_bvalid <= 1'b0;
            if (s_axi_arvalid && s_axi_arready) begin
                s_axi_rvalid <= 1'b1;
                case (s_axi_araddr[4:2])
                    3'd0: s_axi_rdata <= ID;
                    3'd1: s_axi_rdata <= cycles;
                    3'd2: s_axi_rdata <= runs;
                    3'd3: s_axi_rdata <= in_beats;
                    3'd4: s_axi_rdata <= out_beats;
                    3'd5: s_axi_rdata <= {31'd0, busy};
                    default: s_axi_rdata <= 32'd0;
                endcase
            end else if (s_axi_rready) begin
                s_axi_rvalid <= 1'b0;
            end
        end
    end
endmodule
