// Testbench for stream_timer (iverilog): random runs with random back-pressure.
//
// A DMA model sends IN_N beats (TLAST on the last), a network model takes them,
// waits DELAY cycles and answers OUT_N beats (TLAST on the last) to a DMA model
// that is ready at random. The bench notes the cycle of the first input beat and
// of the last output beat itself, and after each run reads the registers over
// AXI4-Lite. It prints one line per run for the test to compare:
//
//   run K first=C last=C in=N out=N | id=.. cycles=.. runs=.. in_beats=.. out_beats=.. busy=..
//   data_errors=N   (beats that did not pass through unchanged)
//
// With +fail=1, every run after the first is preceded by a failed one: a few
// input beats and no output (a dropped frame), then the IP's reset (ip_aresetn)
// pulsed, as the overlay's recovery does; it prints
//
//   fail K busy=B after_ip_reset busy=B cycles=.. runs=..
//
//   iverilog -g2005 -P stream_timer_tb.IN_BYTES=8 -o sim stream_timer_tb.v stream_timer.v
//   vvp sim +seed=1 +runs=4

`timescale 1ns / 1ps
module stream_timer_tb;
    parameter IN_BYTES = 8;
    parameter OUT_BYTES = 8;
    localparam IW = 8 * IN_BYTES, OW = 8 * OUT_BYTES;

    reg aclk = 0, aresetn = 0, ip_aresetn = 1;
    always #5 aclk = ~aclk;

    reg  [IW-1:0] dma_tdata;  reg dma_tlast, dma_tvalid;  wire dma_tready;
    wire [IW-1:0] ip_tdata;   wire ip_tlast, ip_tvalid;    reg ip_tready;
    reg  [OW-1:0] res_tdata;  reg res_tlast, res_tvalid;  wire res_tready;
    wire [OW-1:0] out_tdata;  wire out_tlast, out_tvalid;  reg out_tready;
    reg  [4:0] araddr; reg arvalid; wire arready; wire [31:0] rdata; wire rvalid; reg rready;
    wire [1:0] rresp, bresp; wire awready, wready, bvalid;

    stream_timer #(.IN_BYTES(IN_BYTES), .OUT_BYTES(OUT_BYTES)) dut (
        .aclk(aclk), .aresetn(aresetn), .ip_aresetn(ip_aresetn),
        .s_axis_in_tdata(dma_tdata), .s_axis_in_tkeep({IN_BYTES{1'b1}}), .s_axis_in_tlast(dma_tlast),
        .s_axis_in_tvalid(dma_tvalid), .s_axis_in_tready(dma_tready),
        .m_axis_in_tdata(ip_tdata), .m_axis_in_tkeep(), .m_axis_in_tlast(ip_tlast),
        .m_axis_in_tvalid(ip_tvalid), .m_axis_in_tready(ip_tready),
        .s_axis_out_tdata(res_tdata), .s_axis_out_tkeep({OUT_BYTES{1'b1}}), .s_axis_out_tlast(res_tlast),
        .s_axis_out_tvalid(res_tvalid), .s_axis_out_tready(res_tready),
        .m_axis_out_tdata(out_tdata), .m_axis_out_tkeep(), .m_axis_out_tlast(out_tlast),
        .m_axis_out_tvalid(out_tvalid), .m_axis_out_tready(out_tready),
        .s_axi_awaddr(5'd0), .s_axi_awvalid(1'b0), .s_axi_awready(awready),
        .s_axi_wdata(32'd0), .s_axi_wstrb(4'd0), .s_axi_wvalid(1'b0), .s_axi_wready(wready),
        .s_axi_bresp(bresp), .s_axi_bvalid(bvalid), .s_axi_bready(1'b1),
        .s_axi_araddr(araddr), .s_axi_arvalid(arvalid), .s_axi_arready(arready),
        .s_axi_rdata(rdata), .s_axi_rresp(rresp), .s_axi_rvalid(rvalid), .s_axi_rready(rready)
    );

    integer cycle = 0, seed, runs, fail, k, i, sent, got, delay, in_n, out_n;
    integer first, last, data_errors = 0;
    reg [31:0] regs [0:5];
    always @(posedge aclk) cycle <= cycle + 1;

    // pass-through check and the bench's own timestamps, sampled at each edge
    always @(posedge aclk) if (aresetn) begin
        if (ip_tvalid && ip_tready) begin
            if (ip_tdata !== dma_tdata || ip_tlast !== dma_tlast) data_errors = data_errors + 1;
            if (first < 0) first = cycle;
        end
        if (out_tvalid && out_tready) begin
            if (out_tdata !== res_tdata || out_tlast !== res_tlast) data_errors = data_errors + 1;
            if (out_tlast) last = cycle;
        end
    end

    task read_reg(input integer index);
        begin
            @(negedge aclk) begin araddr = index * 4; arvalid = 1; rready = 1; end
            @(posedge aclk); while (!arready) @(posedge aclk);
            @(negedge aclk) arvalid = 0;
            while (!rvalid) @(posedge aclk);
            regs[index] = rdata;
            @(negedge aclk) rready = 0;
        end
    endtask

    initial begin
        if (!$value$plusargs("seed=%d", seed)) seed = 1;
        if (!$value$plusargs("runs=%d", runs)) runs = 3;
        if (!$value$plusargs("fail=%d", fail)) fail = 0;
        {dma_tvalid, dma_tlast, res_tvalid, res_tlast, arvalid, rready} = 0;
        {ip_tready, out_tready} = 0; dma_tdata = 0; res_tdata = 0; araddr = 0;
        repeat (3) @(posedge aclk);
        @(negedge aclk) aresetn = 1;
        for (k = 1; k <= runs; k = k + 1) begin
            in_n = 1 + ($random(seed) & 31);
            out_n = 1 + ($random(seed) & 3);
            delay = $random(seed) & 15;
            if (fail && k > 1) begin
                // a failed transfer: some input, then nothing comes out
                @(negedge aclk) begin dma_tvalid = 1; dma_tlast = 0; ip_tready = 1; end
                repeat (1 + ($random(seed) & 3)) @(posedge aclk);
                @(negedge aclk) begin dma_tvalid = 0; ip_tready = 0; end
                repeat (5) @(posedge aclk);
                read_reg(5);
                $write("fail %0d busy=%0d", k, regs[5]);
                @(negedge aclk) ip_aresetn = 0;
                repeat (2) @(posedge aclk);
                @(negedge aclk) ip_aresetn = 1;
                for (i = 1; i < 6; i = i + 1) read_reg(i);
                $display(" after_ip_reset busy=%0d cycles=%0d runs=%0d", regs[5], regs[1], regs[2]);
            end
            first = -1; last = -1;
            // DMA -> IP: random valid from the DMA, random ready from the IP
            sent = 0;
            while (sent < in_n) begin
                @(negedge aclk) begin
                    dma_tvalid = ($random(seed) & 3) != 0;
                    dma_tdata = {$random(seed), $random(seed), $random(seed), $random(seed)};
                    dma_tlast = (sent == in_n - 1);
                    ip_tready = ($random(seed) & 3) != 0;
                end
                @(posedge aclk) if (dma_tvalid && ip_tready) sent = sent + 1;
            end
            @(negedge aclk) begin dma_tvalid = 0; ip_tready = 0; end
            repeat (delay) @(posedge aclk);
            // IP -> DMA: the IP holds each beat until the DMA takes it
            got = 0;
            @(negedge aclk) begin
                res_tvalid = 1; res_tdata = {$random(seed), $random(seed), $random(seed), $random(seed)};
                res_tlast = (out_n == 1); out_tready = ($random(seed) & 1);
            end
            while (got < out_n) begin
                @(posedge aclk) if (res_tvalid && out_tready) got = got + 1;
                @(negedge aclk) begin
                    if (got < out_n) begin
                        if (res_tvalid && out_tready)
                            res_tdata = {$random(seed), $random(seed), $random(seed), $random(seed)};
                        res_tlast = (got == out_n - 1);
                    end else begin
                        res_tvalid = 0; res_tlast = 0;
                    end
                    out_tready = ($random(seed) & 1);
                end
            end
            @(negedge aclk) out_tready = 0;
            for (i = 0; i < 6; i = i + 1) read_reg(i);
            $display("run %0d first=%0d last=%0d in=%0d out=%0d | id=%0h cycles=%0d runs=%0d in_beats=%0d out_beats=%0d busy=%0d",
                     k, first, last, in_n, out_n, regs[0], regs[1], regs[2], regs[3], regs[4], regs[5]);
        end
        $display("data_errors=%0d", data_errors);
        $finish;
    end
endmodule
