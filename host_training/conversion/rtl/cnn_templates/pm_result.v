// pynq-mnist RTL: a frame's logits -> its output word, queued for the stream.
//
// The same word as every pynq-mnist IP: bits [CLASS_LSB +: CLASS_BITS] the argmax
// of the full-precision logits (the first maximum wins), then N signed
// LOGIT_BITS-bit logits from LOGITS_LSB, each truncated toward -inf by SHIFT
// fraction bits and saturated. The argmax is a chain of one comparison per
// clock (stage s compares class s with the best so far); words wait in a
// DEPTH-deep FIFO, which the top keeps from overflowing (it admits no more
// frames than DEPTH in flight).
`timescale 1 ns / 1 ps
module pm_result #(
    parameter N = 10, W = 8, EW = 9, SHIFT = 0, SIGNED = 1,
    parameter CLASS_LSB = 0, CLASS_BITS = 4, LOGITS_LSB = 4, LOGIT_BITS = 6,
    parameter DEPTH = 4, PTR_W = 2
) (
    input wire clk,
    input wire rst_n,
    input wire in_valid,
    input wire in_last,
    input wire [N*W-1:0] in_logits,
    output wire out_valid,
    output wire [63:0] out_data,
    output wire out_last,
    input wire out_ready
);
    wire [N*EW-1:0] logits;
    wire [N*N*EW-1:0] L;             // the logits of stage s at [s*N*EW +: N*EW]
    wire [N*EW-1:0] B;               // the best logit of stage s at [s*EW +: EW]
    wire [N*CLASS_BITS-1:0] K;       // its class
    wire [N-1:0] V, T;               // stage s holds a frame / the frame had TLAST
    genvar s, c;
    generate
        for (c = 0; c < N; c = c + 1) begin : extend
            wire [W-1:0] raw = in_logits[W*c +: W];
            assign logits[EW*c +: EW] = {{(EW-W){SIGNED ? raw[W-1] : 1'b0}}, raw};
        end
        for (s = 0; s < N; s = s + 1) begin : stage
            reg [N*EW-1:0] l;
            reg [EW-1:0] b;
            reg [CLASS_BITS-1:0] k;
            reg v, t;
            assign L[s*N*EW +: N*EW] = l;
            assign B[s*EW +: EW] = b;
            assign K[s*CLASS_BITS +: CLASS_BITS] = k;
            assign V[s] = v;
            assign T[s] = t;
            if (s == 0) begin : capture
                always @(posedge clk) begin
                    v <= rst_n && in_valid;
                    t <= in_last;
                    l <= logits;
                    b <= logits[EW-1:0];
                    k <= 0;
                end
            end else begin : compare
                wire [EW-1:0] mine = L[(s-1)*N*EW + s*EW +: EW];
                wire [EW-1:0] best = B[(s-1)*EW +: EW];
                always @(posedge clk) begin
                    v <= rst_n && V[s-1];
                    t <= T[s-1];
                    l <= L[(s-1)*N*EW +: N*EW];
                    if ($signed(mine) > $signed(best)) begin
                        b <= mine;
                        k <= s;
                    end else begin
                        b <= best;
                        k <= K[(s-1)*CLASS_BITS +: CLASS_BITS];
                    end
                end
            end
        end
    endgenerate

    localparam signed [EW-1:0] HI = (1 <<< (LOGIT_BITS - 1)) - 1;
    localparam signed [EW-1:0] LO = -(1 <<< (LOGIT_BITS - 1));
    wire [N*EW-1:0] last_l = L[(N-1)*N*EW +: N*EW];
    wire [N*LOGIT_BITS-1:0] Q;       // the saturated logits
    generate
        for (c = 0; c < N; c = c + 1) begin : saturate
            wire signed [EW-1:0] v = $signed(last_l[c*EW +: EW]) >>> SHIFT;
            wire [EW-1:0] q = (v > HI) ? HI : (v < LO) ? LO : v;
            assign Q[c*LOGIT_BITS +: LOGIT_BITS] = q[LOGIT_BITS-1:0];
        end
    endgenerate
    reg [63:0] word;
    integer j;
    always @(*) begin
        word = {{(64-CLASS_BITS){1'b0}}, K[(N-1)*CLASS_BITS +: CLASS_BITS]} << CLASS_LSB;
        for (j = 0; j < N; j = j + 1)
            word = word | ({{(64-LOGIT_BITS){1'b0}}, Q[j*LOGIT_BITS +: LOGIT_BITS]} << (LOGITS_LSB + LOGIT_BITS*j));
    end

    reg [63:0] fifo_word [0:DEPTH-1];
    reg fifo_last [0:DEPTH-1];
    reg [PTR_W-1:0] wr, rd;
    reg [PTR_W:0] fill;
    wire push = V[N-1];
    wire pop = out_valid && out_ready;
    always @(posedge clk) begin
        if (push) begin
            fifo_word[wr] <= word;
            fifo_last[wr] <= T[N-1];
        end
        if (!rst_n) begin
            wr <= 0;
            rd <= 0;
            fill <= 0;
        end else begin
            if (push) wr <= wr + 1;
            if (pop) rd <= rd + 1;
            fill <= fill + (push ? 1 : 0) - (pop ? 1 : 0);
        end
    end
    assign out_valid = fill != 0;
    assign out_data = fifo_word[rd];
    assign out_last = fifo_last[rd];
endmodule
