// pynq-mnist RTL CNN: image rows out of the stream's beats.
//
// Each beat appends its 64 bits above the bits held; once a row's ROW_BITS are
// there they leave as one row (the pixels of a row, pixel x at bits
// WIRE_BITS*x). A row is at least a beat (ROW_BITS >= 64), so at most one row
// leaves per beat. The frame's last beat drops what is left (a wire's padding).
`timescale 1 ns / 1 ps
module pm_cnn_rows #(parameter ROW_BITS = 224) (
    input wire clk,
    input wire rst_n,
    input wire in_valid,
    input wire [63:0] in_data,
    input wire frame_end,
    output reg out_valid,
    output reg [ROW_BITS-1:0] out_row
);
    localparam BUF = ROW_BITS + 64;
    localparam FW = $clog2(BUF + 1);
    reg [BUF-1:0] held;
    reg [FW-1:0] fill;
    wire [BUF-1:0] merged = held | ({{(BUF - 64){1'b0}}, in_data} << fill);
    wire [FW-1:0] filled = fill + 64;
    wire full = filled >= ROW_BITS;
    always @(posedge clk) begin
        out_valid <= rst_n && in_valid && full;
        if (in_valid && full) out_row <= merged[ROW_BITS-1:0];
        if (!rst_n || (in_valid && frame_end)) begin
            held <= 0;
            fill <= 0;
        end else if (in_valid) begin
            held <= full ? merged >> ROW_BITS : merged;
            fill <= full ? filled - ROW_BITS : filled;
        end
    end
endmodule
