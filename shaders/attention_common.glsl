// Shared by the attention_*.comp kernels (engine/ops/attention.c): sizes, push constants and the
// token geometry. Work is tiled by (image, window, head, block of WG invocations, each with a
// register tile of consecutive queries or keys); every lane of a workgroup walks the same keys (or
// queries), so the inner loop reads K and V (or Q and dO) at workgroup-uniform texel indices, the
// fast pattern on lavapipe (LAVAPIPE_NOTES.md), and each fetched texel serves the whole tile.
//
// head_dim is a specialisation constant HD4 = head_dim / 4 (vec4s); every loop over it is written
// over the compile-time MAXD4 with an `if (i < HD4)` guard, so glslc unrolls it completely and no
// invocation runs a loop over the head dimension: lavapipe silently ends a shader after 65535 loop
// iterations in all, and 4096 keys x a 16-iteration inner loop would pass that. The remaining
// loops are over keys (or queries) and rel-pos rows: at most a few thousand per invocation.
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint HD4 = 16; // head_dim / 4, at most MAXD4
layout(constant_id = 2) const uint REL = 0;  // decomposed relative-position bias on
const uint MAXD4 = 32; // head_dim <= 128 (SAM: 64, vit_h 80, decoder 16 and 32)
const uint MAXL = 64;  // with rel pos, key blocks of at most 64 x 64 (SAM at S=1024: 64)
const float NEG = -1.0e30; // masked score: exp(NEG - finite) == 0, without infinities

layout(push_constant) uniform P {
    uint nq, qw;       // queries per (image, window): count, width of the query block
    uint nk, kw;       // keys per (image, window): count, width (key rows = nk / kw)
    uint nb;           // workgroups per (image, window, head)
    uint nwin, nwx;    // windows per image, per grid row (1, 1 without windows)
    uint win;          // window side, 0 without windows
    uint grid_w;       // tokens per grid row (0 without a grid)
    uint heads;
    uint q_tokens, k_tokens;                 // per image
    uint q_rs, q_c0, k_rs, k_c0, v_rs, v_c0; // operand row length and first column, in texels
    uint lh, lw;       // rel pos: row of offset 0 in the tables (L - 1)
    float scale;
    uint n_groups;     // workgroups in all
    uint acc0, acc1;   // gradient kernels: accumulate into the first / second output
    uint aux;          // kernel-specific
    uint bq4;          // texels per row of the bias and statistics layouts: ceil(nq / 4)
} p;

struct Tile {
    uint b, h, blk, origin; // image, head, block of the (image, window, head), first token
    uint bwh;               // index of the (image, window, head)
};

// False for the padding workgroups of a 2-D dispatch (uniform over the workgroup).
bool tile_of(out Tile t) {
    uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    t.b = t.h = t.blk = t.origin = t.bwh = 0;
    if (g >= p.n_groups)
        return false;
    t.blk = g % p.nb;
    g /= p.nb;
    t.bwh = g;
    t.h = g % p.heads;
    g /= p.heads;
    const uint w = g % p.nwin;
    t.b = g / p.nwin;
    t.origin = ((w / p.nwx) * p.grid_w + w % p.nwx) * p.win;
    return true;
}

// Token row (over all images) of query i / key j of a tile.
uint q_token(Tile t, uint i) {
    const uint y = i / p.qw;
    return t.b * p.q_tokens + t.origin + y * p.grid_w + (i - y * p.qw);
}
uint k_token(Tile t, uint j) {
    const uint y = j / p.kw;
    return t.b * p.k_tokens + t.origin + y * p.grid_w + (j - y * p.kw);
}
// The same from row y and column x of the block. Inner loops walk tokens with (y, x) counters
// rather than dividing: lavapipe scalarises integer division lane by lane (x86 has no vector
// divide), which cost as much as the texel fetches in these loops.
uint q_token_yx(Tile t, uint y, uint x) { return t.b * p.q_tokens + t.origin + y * p.grid_w + x; }
uint k_token_yx(Tile t, uint y, uint x) { return t.b * p.k_tokens + t.origin + y * p.grid_w + x; }

// The rel-pos bias tensor (attention_bias.comp), [image, window, head][kh + kw][queries padded to
// a multiple of 4]: row r < kh holds q.Rh[qy - r + lh] of every query of the block, row kh + x
// holds q.Rw[qx - x + lw]; one texel holds 4 consecutive queries. First texel of row r of a tile:
uint bias_q4() { return p.bq4; }
int bias_texel(Tile t, uint r) {
    return int((t.bwh * (p.nk / p.kw + p.kw) + r) * bias_q4());
}

// The backward's per-query statistics (attention_bwd_prep.comp), [image, window, head][2][queries
// padded to 4]: row 0 the log-sum-exp, row 1 delta = dO.O. First texel of row `which` of a tile:
int stats_texel(Tile t, uint which) { return int((t.bwh * 2 + which) * bias_q4()); }

// One head's row of an operand, as texel indices.
int q_texel(Tile t, uint row) { return int(row * p.q_rs + p.q_c0 + t.h * HD4); }
int k_texel(Tile t, uint row) { return int(row * p.k_rs + p.k_c0 + t.h * HD4); }
int v_texel(Tile t, uint row) { return int(row * p.v_rs + p.v_c0 + t.h * HD4); }
