// Shared by the attention_*.comp kernels (engine/ops/attention.c): sizes, push constants and the
// token geometry. Work is tiled by (image, window, head, block of WG queries or keys); every lane
// of a workgroup walks the same keys (or queries), so the inner loop reads K and V (or Q and dO)
// at workgroup-uniform texel indices, the fast pattern on lavapipe (LAVAPIPE_NOTES.md).
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
} p;

struct Tile {
    uint b, h, blk, origin; // image, head, block of the (image, window, head), first token
};

// False for the padding workgroups of a 2-D dispatch (uniform over the workgroup).
bool tile_of(out Tile t) {
    uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    t.b = t.h = t.blk = t.origin = 0;
    if (g >= p.n_groups)
        return false;
    t.blk = g % p.nb;
    g /= p.nb;
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

// One head's row of an operand, as texel indices.
int q_texel(Tile t, uint row) { return int(row * p.q_rs + p.q_c0 + t.h * HD4); }
int k_texel(Tile t, uint row) { return int(row * p.k_rs + p.k_c0 + t.h * HD4); }
int v_texel(Tile t, uint row) { return int(row * p.v_rs + p.v_c0 + t.h * HD4); }
