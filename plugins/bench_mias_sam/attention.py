"""SAM's image-encoder attention through torch's fused ``scaled_dot_product_attention``.

segment-anything's ``Attention.forward`` builds the whole attention matrix:
in ViT-B's four global blocks that is 4,096 x 4,096 float32 per head, 64 MiB,
768 MiB for the 12 heads of one image, and the relative-position bias and
the softmax each make another copy. :class:`FusedAttention` computes the same
function, ``softmax(scale * q k^T + bias) v``, with
``torch.nn.functional.scaled_dot_product_attention``, whose kernels never hold
more than a tile of the matrix.

The bias is segment-anything's decomposed relative-position term
(``add_decomposed_rel_pos``): for query ``i`` at (row ``h``, column ``w``) and
key ``j`` at (row ``kh``, column ``kw``), ``q_i . R_h[h, kh] + q_i . R_w[w, kw]``,
with the *unscaled* query, as the original adds it after scaling. It is
passed as the attention mask; to bound its size it is built for a block of
query rows at a time (at most :func:`mask_bytes` per call: 64 MiB on CPU,
1 GiB on CUDA), which changes no value: every query row's softmax is over all keys either way.

The swap is done on a built network by changing each ``Attention`` module's
class (:func:`use_fused_attention`); parameters, state-dict keys and
checkpoints are untouched, and segment-anything is not forked. Outputs
match the original to float32 rounding (summation order differs); the tests
compare both paths on the tiny SAM, the benchmark on ViT-B.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.image_encoder import Attention, get_rel_pos

#: Largest relative-position mask built for one fused-attention call (bytes); more query rows are split.
#: On CUDA the kernels are launched per block, so blocks are larger there.
MASK_BYTES = 64 << 20
CUDA_MASK_BYTES = 1 << 30


def mask_bytes(device: torch.device | str) -> int:
    """The mask budget of one fused-attention call on ``device``."""
    return CUDA_MASK_BYTES if torch.device(device).type == "cuda" else MASK_BYTES


class FusedAttention(Attention):
    """segment-anything's ``Attention`` (same parameters) computed with ``scaled_dot_product_attention``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B x H x W x C tokens -> B x H x W x C, as ``Attention.forward``."""
        batch, height, width, _ = x.shape
        tokens = height * width
        # 3 x B x heads x tokens x head_dim
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.use_rel_pos:
            out = self._with_relative_positions(q, k, v, height, width)
        else:
            out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        out = out.view(batch, self.num_heads, height, width, -1).permute(0, 2, 3, 1, 4)
        return self.proj(out.reshape(batch, height, width, -1))

    def _with_relative_positions(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """B x heads x (H W) x d queries, keys, values -> B x heads x (H W) x d, bias as the mask."""
        batch, heads, tokens, dim = q.shape
        rel_h_table = get_rel_pos(height, height, self.rel_pos_h)  # H x H x d
        rel_w_table = get_rel_pos(width, width, self.rel_pos_w)  # W x W x d
        grid_q = q.reshape(batch, heads, height, width, dim)
        rel_h = torch.einsum("bnhwc,hkc->bnhwk", grid_q, rel_h_table)  # B x heads x H x W x H(keys)
        rel_w = torch.einsum("bnhwc,wkc->bnhwk", grid_q, rel_w_table)  # B x heads x H x W x W(keys)
        row_bytes = batch * heads * width * tokens * q.element_size()
        rows = max(1, min(height, mask_bytes(q.device) // max(row_bytes, 1)))
        blocks = []
        for top in range(0, height, rows):
            bottom = min(height, top + rows)
            mask = rel_h[:, :, top:bottom, :, :, None] + rel_w[:, :, top:bottom, :, None, :]
            mask = mask.reshape(batch, heads, (bottom - top) * width, tokens).to(q.dtype)
            query = q[:, :, top * width : bottom * width]
            blocks.append(F.scaled_dot_product_attention(query, k, v, attn_mask=mask, scale=self.scale))
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=2)


def use_fused_attention(encoder: torch.nn.Module) -> int:
    """Switch every segment-anything ``Attention`` inside ``encoder`` to :class:`FusedAttention`.

    Returns the number of modules switched. Modules of other classes
    (including subclasses of ``Attention``) are left alone.
    """
    switched = 0
    for module in encoder.modules():
        if type(module) is Attention:
            module.__class__ = FusedAttention
            switched += 1
    return switched


def use_reference_attention(encoder: torch.nn.Module) -> int:
    """Undo :func:`use_fused_attention`: every :class:`FusedAttention` back to segment-anything's own."""
    switched = 0
    for module in encoder.modules():
        if type(module) is FusedAttention:
            module.__class__ = Attention
            switched += 1
    return switched
