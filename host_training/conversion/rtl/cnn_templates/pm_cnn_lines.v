// pynq-mnist RTL CNN: the line buffer of one 3x3 convolution.
//
// Holds the two rows before the incoming one; with the third row comes a window
// of three whole rows, {newest, middle, oldest} (the oldest at the LSBs), which
// the layer's da4ml unit turns into one output row: every output column of that
// row at once. `index` is the output row it gives (0 .. HEIGHT-3).
`timescale 1 ns / 1 ps
module pm_cnn_lines #(parameter ROW = 224, HEIGHT = 28, INDEX_BITS = 5) (
    input wire clk,
    input wire rst_n,
    input wire in_valid,
    input wire [ROW-1:0] in_row,
    output wire [3*ROW-1:0] window,
    output wire go,
    output wire [INDEX_BITS-1:0] index
);
    reg [ROW-1:0] middle, oldest;
    reg [INDEX_BITS-1:0] row;  // rows of this frame taken so far
    always @(posedge clk) begin
        if (in_valid) begin
            oldest <= middle;
            middle <= in_row;
        end
        if (!rst_n) row <= 0;
        else if (in_valid) row <= (row == HEIGHT - 1) ? 0 : row + 1;
    end
    assign window = {in_row, middle, oldest};
    assign go = in_valid && row >= 2;
    assign index = row - 2;
endmodule
