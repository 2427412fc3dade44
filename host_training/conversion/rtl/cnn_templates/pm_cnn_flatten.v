// pynq-mnist RTL CNN: the last pooled rows of a frame, side by side for the dense head.
//
// ROWS rows shift in from the top; after the frame's last one the vector holds
// row 0 at the LSBs: Keras's Flatten order (row, column, channel). `out_valid`
// is high in the clock after, while the vector is whole.
`timescale 1 ns / 1 ps
module pm_cnn_flatten #(parameter ROW = 30, ROWS = 5, COUNT_BITS = 3) (
    input wire clk,
    input wire rst_n,
    input wire in_valid,
    input wire [ROW-1:0] in_row,
    output reg out_valid,
    output reg [ROWS*ROW-1:0] flat
);
    reg [COUNT_BITS-1:0] count;
    generate
        if (ROWS == 1) begin : one
            always @(posedge clk) if (in_valid) flat <= in_row;
        end else begin : shift
            always @(posedge clk) if (in_valid) flat <= {in_row, flat[ROWS*ROW-1:ROW]};
        end
    endgenerate
    always @(posedge clk) begin
        out_valid <= rst_n && in_valid && count == ROWS - 1;
        if (!rst_n) count <= 0;
        else if (in_valid) count <= (count == ROWS - 1) ? 0 : count + 1;
    end
endmodule
