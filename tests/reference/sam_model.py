"""A PyTorch reference of SAM and SAMed, written from ../shared/SAM_SPEC.md.

It has the official module structure, so state_dict() has the official key names and a
checkpoint it saves loads like sam_vit_*.pth. Used to write random-weight checkpoints and to
dump the tensors the engine's parity tests compare against. Run with Debian's /usr/bin/python3
(python3-torch). Not imported by anything at run time: tests only.

Every size comes from a preset, the engine's own models/presets/<name>.yaml (or any .yaml path,
read with python3-yaml): Sam("brain"), ImageEncoderViT("vit_b", 512), resize_state_dict(sd, 512,
"tiny"). load_preset() returns the dict of its keys.
"""
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

# Defaults of the official architecture, used where a module is built without a preset (tests of
# single modules); a model's sizes come from its preset.
PATCH = 16
WINDOW = 14
PROMPT_DIM = 256

PRESET_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "models", "presets")
PRESET_KEYS = ("image_size", "patch_size", "embed_dim", "depth", "heads", "mlp_ratio",
               "window_size", "global_blocks", "encoder_ln_eps", "neck_dim", "prompt_dim",
               "mask_in_chans", "decoder_depth", "decoder_heads", "decoder_mlp_dim",
               "decoder_downsample", "mask_outputs", "iou_head_depth", "iou_head_hidden")


def load_preset(preset):
    """A preset as a dict of every key in PRESET_KEYS (+ "name"). `preset` is a name of a file in
    models/presets ("vit_b", "brain", ...), a path to a .yaml file, or an already loaded dict."""
    if isinstance(preset, dict):
        return preset
    import yaml

    path = preset if os.sep in preset or preset.endswith((".yaml", ".yml")) else \
        os.path.join(PRESET_DIR, preset + ".yaml")
    if not os.path.isfile(path):
        names = sorted(f[:-5] for f in os.listdir(PRESET_DIR) if f.endswith(".yaml"))
        raise ValueError(f"no preset {preset!r} ({path} missing; presets: {', '.join(names)})")
    with open(path) as f:
        p = yaml.safe_load(f)
    if not isinstance(p, dict):
        raise ValueError(f"{path}: not a mapping of preset keys")
    missing = [k for k in PRESET_KEYS if k not in p]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    p = dict(p)
    p["global_blocks"] = tuple(p["global_blocks"] or ())
    p["encoder_ln_eps"] = float(p["encoder_ln_eps"])
    p.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return p


class LayerNorm2d(nn.Module):
    """LayerNorm over channels at each pixel of B x C x H x W."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLPBlock(nn.Module):
    def __init__(self, dim, hidden, act):
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.lin2 = nn.Linear(hidden, dim)
        self.act = act()

    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))


def resize_rel_pos(table, length):
    """1-D linear resize of a (L, head_dim) table to `length` rows, align_corners=False."""
    if table.shape[0] == length:
        return table
    r = F.interpolate(table.reshape(1, table.shape[0], -1).permute(0, 2, 1), size=length,
                      mode="linear")
    return r.reshape(-1, length).permute(1, 0)


def get_rel_pos(q_size, k_size, table):
    max_dist = int(2 * max(q_size, k_size) - 1)
    table = resize_rel_pos(table, max_dist)
    q_coords = torch.arange(q_size)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size)[None, :] * max(q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return table[rel.long()]


def add_decomposed_rel_pos(attn, q, rel_pos_h, rel_pos_w, hw):
    h, w = hw
    rh = get_rel_pos(h, h, rel_pos_h)
    rw = get_rel_pos(w, w, rel_pos_w)
    b, _, dim = q.shape
    r_q = q.reshape(b, h, w, dim)
    rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, rh)
    rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, rw)
    attn = attn.view(b, h, w, h, w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]
    return attn.view(b, h * w, h * w)


class EncoderAttention(nn.Module):
    def __init__(self, dim, heads, input_size):
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size - 1, head_dim))

    def forward(self, x):
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.heads, h * w, -1).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = add_decomposed_rel_pos(attn, q, self.rel_pos_h, self.rel_pos_w, (h, w))
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(b, self.heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1)
        return self.proj(x)


def window_partition(x, ws):
    b, h, w, c = x.shape
    ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // ws, ws, wp // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c), (hp, wp)


def window_unpartition(windows, ws, pad_hw, hw):
    hp, wp = pad_hw
    h, w = hw
    b = windows.shape[0] // (hp * wp // ws // ws)
    x = windows.view(b, hp // ws, wp // ws, ws, ws, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, hp, wp, -1)
    return x[:, :h, :w, :].contiguous()


class Block(nn.Module):
    """window 0: global attention over the grid x grid tokens."""

    def __init__(self, dim, heads, window, grid, mlp_ratio=4, eps=1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = EncoderAttention(dim, heads, window if window > 0 else grid)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLPBlock(dim, int(mlp_ratio * dim), nn.GELU)
        self.window = window

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        if self.window > 0:
            h, w = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, self.window)
        x = self.attn(x)
        if self.window > 0:
            x = window_unpartition(x, self.window, pad_hw, (h, w))
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch=PATCH):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).permute(0, 2, 3, 1)


class ImageEncoderViT(nn.Module):
    """preset: a name in models/presets, a .yaml path or a load_preset dict; img_size: the input
    side S (default: the preset's image_size), the pos_embed grid is S / patch_size."""

    def __init__(self, preset, img_size=None):
        super().__init__()
        p = load_preset(preset)
        dim, patch = p["embed_dim"], p["patch_size"]
        grid = (img_size or p["image_size"]) // patch
        self.patch_embed = PatchEmbed(dim, patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, dim))
        self.blocks = nn.ModuleList(
            Block(dim, p["heads"], 0 if i in p["global_blocks"] else p["window_size"], grid,
                  p["mlp_ratio"], p["encoder_ln_eps"]) for i in range(p["depth"]))
        neck = p["neck_dim"]
        self.neck = nn.Sequential(
            nn.Conv2d(dim, neck, kernel_size=1, bias=False), LayerNorm2d(neck),
            nn.Conv2d(neck, neck, kernel_size=3, padding=1, bias=False), LayerNorm2d(neck))

    def forward(self, x):
        x = self.patch_embed(x) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.neck(x.permute(0, 3, 1, 2))


class PositionEmbeddingRandom(nn.Module):
    def __init__(self, num_pos_feats=PROMPT_DIM // 2):
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def _pe_encoding(self, coords):
        coords = 2 * coords - 1
        coords = coords @ self.positional_encoding_gaussian_matrix
        coords = 2 * math.pi * coords
        return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

    def forward(self, size):
        h, w = size
        grid = torch.ones((h, w), dtype=torch.float32)
        y = (grid.cumsum(dim=0) - 0.5) / h
        x = (grid.cumsum(dim=1) - 0.5) / w
        return self._pe_encoding(torch.stack([x, y], dim=-1)).permute(2, 0, 1)

    def forward_with_coords(self, coords_in, image_size):
        coords = coords_in.clone()
        coords[:, :, 0] = coords[:, :, 0] / image_size[1]
        coords[:, :, 1] = coords[:, :, 1] / image_size[0]
        return self._pe_encoding(coords.to(torch.float))


class PromptEncoder(nn.Module):
    def __init__(self, img_size=1024, embed_dim=PROMPT_DIM, patch=PATCH, mask_in_chans=16):
        super().__init__()
        self.embed_dim = embed_dim
        g = img_size // patch
        self.image_embedding_size = (g, g)
        self.input_image_size = (img_size, img_size)
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        c = mask_in_chans
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, c // 4, kernel_size=2, stride=2), LayerNorm2d(c // 4), nn.GELU(),
            nn.Conv2d(c // 4, c, kernel_size=2, stride=2), LayerNorm2d(c), nn.GELU(),
            nn.Conv2d(c, embed_dim, kernel_size=1))
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def get_dense_pe(self):
        return self.pe_layer(self.image_embedding_size).unsqueeze(0)

    def _embed_points(self, points, labels, pad):
        points = points + 0.5
        if pad:
            points = torch.cat([points, torch.zeros((points.shape[0], 1, 2))], dim=1)
            labels = torch.cat([labels, -torch.ones((labels.shape[0], 1))], dim=1)
        pe = self.pe_layer.forward_with_coords(points, self.input_image_size)
        pe[labels == -1] = 0.0
        pe[labels == -1] += self.not_a_point_embed.weight
        pe[labels == 0] += self.point_embeddings[0].weight
        pe[labels == 1] += self.point_embeddings[1].weight
        return pe

    def _embed_boxes(self, boxes):
        boxes = boxes + 0.5
        corners = self.pe_layer.forward_with_coords(boxes.reshape(-1, 2, 2),
                                                    self.input_image_size)
        corners[:, 0, :] += self.point_embeddings[2].weight
        corners[:, 1, :] += self.point_embeddings[3].weight
        return corners

    def forward(self, points=None, boxes=None, masks=None, batch=1):
        sparse = torch.empty((batch, 0, self.embed_dim))
        if points is not None:
            sparse = torch.cat([sparse, self._embed_points(points[0], points[1],
                                                           pad=boxes is None)], dim=1)
        if boxes is not None:
            sparse = torch.cat([sparse, self._embed_boxes(boxes)], dim=1)
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            h, w = self.image_embedding_size
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, h, w)
        return sparse, dense


class DecoderAttention(nn.Module):
    def __init__(self, dim, heads, downsample=1):
        super().__init__()
        self.internal = dim // downsample
        self.heads = heads
        self.q_proj = nn.Linear(dim, self.internal)
        self.k_proj = nn.Linear(dim, self.internal)
        self.v_proj = nn.Linear(dim, self.internal)
        self.out_proj = nn.Linear(self.internal, dim)

    def _split(self, x):
        b, n, c = x.shape
        return x.reshape(b, n, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, q, k, v):
        q, k, v = (self._split(self.q_proj(q)), self._split(self.k_proj(k)),
                   self._split(self.v_proj(v)))
        attn = (q @ k.permute(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
        out = attn.softmax(dim=-1) @ v
        b, h, n, c = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * c))


class TwoWayAttentionBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim, skip_first_layer_pe, downsample=2):
        super().__init__()
        self.self_attn = DecoderAttention(dim, heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = DecoderAttention(dim, heads, downsample)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLPBlock(dim, mlp_dim, nn.ReLU)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = DecoderAttention(dim, heads, downsample)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, queries, keys, query_pe, key_pe):
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        q, k = queries + query_pe, keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(q, k, keys))
        queries = self.norm3(queries + self.mlp(queries))
        q, k = queries + query_pe, keys + key_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries))
        return queries, keys


class TwoWayTransformer(nn.Module):
    def __init__(self, depth=2, dim=PROMPT_DIM, heads=8, mlp_dim=2048, downsample=2):
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(dim, heads, mlp_dim, i == 0, downsample) for i in range(depth))
        self.final_attn_token_to_image = DecoderAttention(dim, heads, downsample)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image_embedding, image_pe, point_embedding):
        keys = image_embedding.flatten(2).permute(0, 2, 1)
        key_pe = image_pe.flatten(2).permute(0, 2, 1)
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe)
        q, k = queries + point_embedding, keys + key_pe
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(q, k, keys))
        return queries, keys


class MLP(nn.Module):
    def __init__(self, inp, hidden, out, layers):
        super().__init__()
        dims = [inp] + [hidden] * (layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [out]))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if i < len(self.layers) - 1 else layer(x)
        return x


class MaskDecoder(nn.Module):
    def __init__(self, num_mask_tokens=4, dim=PROMPT_DIM, depth=2, heads=8, mlp_dim=2048,
                 downsample=2, iou_head_depth=3, iou_head_hidden=256):
        super().__init__()
        self.transformer = TwoWayTransformer(depth, dim, heads, mlp_dim, downsample)
        self.num_mask_tokens = num_mask_tokens
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(num_mask_tokens, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2), LayerNorm2d(dim // 4),
            nn.GELU(), nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2), nn.GELU())
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(num_mask_tokens))
        self.iou_prediction_head = MLP(dim, iou_head_hidden, num_mask_tokens, iou_head_depth)

    def forward(self, image_embeddings, image_pe, sparse, dense):
        """All M low-res mask logits and IoU predictions (callers select SAM's outputs)."""
        out = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        out = out.unsqueeze(0).expand(sparse.size(0), -1, -1)
        tokens = torch.cat((out, sparse), dim=1)
        src = torch.repeat_interleave(image_embeddings,
                                      tokens.shape[0] // image_embeddings.shape[0], dim=0)
        src = src + dense
        pos = torch.repeat_interleave(image_pe, tokens.shape[0], dim=0)
        b, c, h, w = src.shape
        hs, src = self.transformer(src, pos, tokens)
        iou_out = hs[:, 0, :]
        mask_out = hs[:, 1:1 + self.num_mask_tokens, :]
        up = self.output_upscaling(src.transpose(1, 2).view(b, c, h, w))
        hyper = torch.stack([m(mask_out[:, i, :])
                             for i, m in enumerate(self.output_hypernetworks_mlps)], dim=1)
        b, c, h, w = up.shape
        masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
        return masks, self.iou_prediction_head(iou_out)


class Sam(nn.Module):
    """Official key layout: image_encoder.*, prompt_encoder.*, mask_decoder.*."""

    def __init__(self, preset="tiny", img_size=None, num_mask_tokens=None):
        """img_size: input side S (default the preset's image_size); num_mask_tokens: M (default
        the preset's mask_outputs)."""
        super().__init__()
        p = load_preset(preset)
        img_size = img_size or p["image_size"]
        dim = p["prompt_dim"]
        if p["neck_dim"] != dim:
            raise ValueError(f"preset {p['name']}: neck_dim {p['neck_dim']} != prompt_dim {dim}")
        self.image_encoder = ImageEncoderViT(p, img_size)
        self.prompt_encoder = PromptEncoder(img_size, dim, p["patch_size"], p["mask_in_chans"])
        self.mask_decoder = MaskDecoder(
            num_mask_tokens or p["mask_outputs"], dim, p["decoder_depth"], p["decoder_heads"],
            p["decoder_mlp_dim"], p["decoder_downsample"], p["iou_head_depth"],
            p["iou_head_hidden"])


class LoRAqkv(nn.Module):
    """SAMed's LoRA on q and v of a block's qkv Linear: q += B_q(A_q(x)), v += B_v(A_v(x))."""

    def __init__(self, qkv, a_q, b_q, a_v, b_v):
        super().__init__()
        self.qkv, self.a_q, self.b_q, self.a_v, self.b_v = qkv, a_q, b_q, a_v, b_v
        self.dim = qkv.in_features

    def forward(self, x):
        qkv = self.qkv(x)
        q = self.b_q(self.a_q(x))
        v = self.b_v(self.a_v(x))
        qkv[..., :self.dim] += q
        qkv[..., -self.dim:] += v
        return qkv


def add_lora(sam, rank=4):
    """Wraps every encoder block's qkv; returns the LoRA layers in SAMed's w_a/w_b order."""
    w_a, w_b = [], []
    for blk in sam.image_encoder.blocks:
        dim = blk.attn.qkv.in_features
        a_q, b_q = nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim, bias=False)
        a_v, b_v = nn.Linear(dim, rank, bias=False), nn.Linear(rank, dim, bias=False)
        for a in (a_q, a_v):
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
        blk.attn.qkv = LoRAqkv(blk.attn.qkv, a_q, b_q, a_v, b_v)
        w_a += [a_q, a_v]
        w_b += [b_q, b_v]
    return w_a, w_b


def lora_state_dict(sam, w_a, w_b):
    """SAMed's save_lora_parameters layout: w_a_000.., w_b_000.., prompt_encoder.*,
    mask_decoder.*."""
    d = {f"w_a_{i:03d}": l.weight for i, l in enumerate(w_a)}
    d.update({f"w_b_{i:03d}": l.weight for i, l in enumerate(w_b)})
    for k, v in sam.state_dict().items():
        if k.startswith("prompt_encoder.") or k.startswith("mask_decoder."):
            d[k] = v
    return d


class LoRAproj(nn.Module):
    """SAMed_s's LoRA on one decoder projection: proj(x) + B(A(x))."""

    def __init__(self, proj, a, b):
        super().__init__()
        self.proj, self.a, self.b = proj, a, b

    def forward(self, x):
        return self.proj(x) + self.b(self.a(x))


def add_decoder_lora(sam, rank=4):
    """SAMed_s (sam_lora_image_encoder_mask_decoder.py): freezes the decoder's two-way
    transformer and wraps q_proj and v_proj of every attention in it. Returns {group: [(a, b),
    ...]} for sa, cti, cit (q then v of each layer) and fati (q, v)."""
    tf = sam.mask_decoder.transformer
    for p in tf.parameters():
        p.requires_grad_(False)
    groups = {"sa": [], "cti": [], "cit": [], "fati": []}

    def wrap(attn, group):
        for name in ("q_proj", "v_proj"):
            proj = getattr(attn, name)
            a = nn.Linear(proj.in_features, rank, bias=False)
            b = nn.Linear(rank, proj.out_features, bias=False)
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
            nn.init.zeros_(b.weight)
            setattr(attn, name, LoRAproj(proj, a, b))
            groups[group].append((a, b))

    for layer in tf.layers:
        wrap(layer.self_attn, "sa")
        wrap(layer.cross_attn_token_to_image, "cti")
        wrap(layer.cross_attn_image_to_token, "cit")
    wrap(tf.final_attn_token_to_image, "fati")
    return groups


def samed_s_state_dict(sam, w_a, w_b, groups):
    """SAMed_s's save_lora_parameters layout: w_a, w_b, sa_a, sa_b, cti_a, cti_b, cit_a, cit_b,
    prompt_encoder.*, mask_decoder.* outside the transformer, fati_qa, fati_qb, fati_va,
    fati_vb. Keys of the wrapped projections are the official ones (proj.weight ->
    q_proj.weight)."""
    d = {f"w_a_{i:03d}": l.weight for i, l in enumerate(w_a)}
    d.update({f"w_b_{i:03d}": l.weight for i, l in enumerate(w_b)})
    for g in ("sa", "cti", "cit"):
        d.update({f"{g}_a_{i:03d}": a.weight for i, (a, _) in enumerate(groups[g])})
        d.update({f"{g}_b_{i:03d}": b.weight for i, (_, b) in enumerate(groups[g])})
    for k, v in sam.state_dict().items():
        if k.startswith("prompt_encoder.") or (k.startswith("mask_decoder.") and
                                               "transformer" not in k):
            d[k] = v
    (qa, qb), (va, vb) = groups["fati"]
    d.update({"fati_qa": qa.weight, "fati_qb": qb.weight, "fati_va": va.weight,
              "fati_vb": vb.weight})
    return d


def randomize(module, seed, scale=0.05):
    """Random weights everywhere (zeros would hide errors); LayerNorm weights near 1."""
    g = torch.Generator().manual_seed(seed)
    norms = {id(m.weight) for m in module.modules() if isinstance(m, (nn.LayerNorm, LayerNorm2d))}
    with torch.no_grad():
        for p in module.parameters():
            r = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.1 * r if id(p) in norms else scale * r)
        for b in module.buffers():
            b.copy_(torch.randn(b.shape, generator=g))


def resize_state_dict(sd, img_size, preset):
    """SAMed's load-time adaptation of a 1024 checkpoint to another input size: pos_embed
    resized bilinearly (align_corners=False), and every rel_pos table whose length does not
    match its block's grid resized with 1-D linear interpolation along its rows."""
    p = load_preset(preset)
    grid = img_size // p["patch_size"]
    out = dict(sd)
    pe = sd["image_encoder.pos_embed"]
    if pe.shape[1] != grid:
        out["image_encoder.pos_embed"] = F.interpolate(
            pe.permute(0, 3, 1, 2), (grid, grid), mode="bilinear",
            align_corners=False).permute(0, 2, 3, 1)
    for i in range(p["depth"]):
        side = grid if i in p["global_blocks"] else p["window_size"]
        for hw in ("h", "w"):
            key = f"image_encoder.blocks.{i}.attn.rel_pos_{hw}"
            out[key] = resize_rel_pos(sd[key], 2 * side - 1)
    return out


def load_matching(model, sd):
    """What SAMed ends up with: its strict load fails on the resized decoder, but every tensor
    whose shape matches has been copied by then; the rest keeps its fresh initialisation."""
    own = model.state_dict()
    with torch.no_grad():
        for k, v in sd.items():
            if k in own and own[k].shape == v.shape:
                own[k].copy_(v)
    return [k for k in own if k not in sd or own[k].shape != sd[k].shape]
