// pynq-mnist RTL: a word that travels beside a da4ml pipeline, DEPTH clocks.
// Bit 0 is a valid bit; the reset clears every stage.
`timescale 1 ns / 1 ps
module pm_pipe #(parameter WIDTH = 1, DEPTH = 2) (
    input wire clk,
    input wire rst_n,
    input wire [WIDTH-1:0] in,
    output wire [WIDTH-1:0] out
);
    reg [WIDTH-1:0] stage [0:DEPTH-1];
    integer i;
    always @(posedge clk) begin
        for (i = 0; i < DEPTH; i = i + 1)
            stage[i] <= !rst_n ? {WIDTH{1'b0}} : (i == 0 ? in : stage[i - 1]);
    end
    assign out = stage[DEPTH-1];
endmodule
