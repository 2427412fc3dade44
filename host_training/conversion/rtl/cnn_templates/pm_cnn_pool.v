// pynq-mnist RTL CNN: 2x2 max pooling of a convolution's rows (valid, stride 2).
//
// Rows arrive whole (column x, channel f at bits EB*(x*F + f)); an even row is
// held, the odd row after it gives one pooled row: every pooled column at once.
// The values are unsigned (quantized ReLU outputs): the maximum of four
// comparisons, no rounding. Rows past the last whole pair (an odd height) are
// dropped, as Keras's MaxPooling2D does.
`timescale 1 ns / 1 ps
module pm_cnn_pool #(parameter W_IN = 26, F = 1, EB = 6, H_OUT = 13, INDEX_BITS = 5) (
    input wire clk,
    input wire rst_n,
    input wire in_valid,
    input wire [INDEX_BITS-1:0] in_index,
    input wire [W_IN*F*EB-1:0] in_row,
    output reg out_valid,
    output reg [(W_IN/2)*F*EB-1:0] out_row
);
    localparam W_OUT = W_IN / 2;
    reg [W_IN*F*EB-1:0] upper;
    wire [W_OUT*F*EB-1:0] pooled;
    genvar p, f;
    generate
        for (p = 0; p < W_OUT; p = p + 1) begin : column
            for (f = 0; f < F; f = f + 1) begin : channel
                wire [EB-1:0] a = upper[((2*p)*F + f)*EB +: EB];
                wire [EB-1:0] b = upper[((2*p + 1)*F + f)*EB +: EB];
                wire [EB-1:0] c = in_row[((2*p)*F + f)*EB +: EB];
                wire [EB-1:0] d = in_row[((2*p + 1)*F + f)*EB +: EB];
                wire [EB-1:0] ab = a > b ? a : b;
                wire [EB-1:0] cd = c > d ? c : d;
                assign pooled[(p*F + f)*EB +: EB] = ab > cd ? ab : cd;
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (in_valid && !in_index[0]) upper <= in_row;
        out_valid <= rst_n && in_valid && in_index[0] && (in_index >> 1) < H_OUT;
        out_row <= pooled;
    end
endmodule
