"""Acceptance: facebookresearch/detr (github.com/facebookresearch/detr, Apache-2.0 licence,
(c) Facebook, Inc. and its affiliates) runs unchanged on ember.

Four files are kept verbatim, each at the commit named above it: ``models/transformer.py`` (the
DETR encoder-decoder on ``nn.MultiheadAttention`` with ``key_padding_mask``, positional
embeddings added to queries and keys, pre- and post-norm layers, ``torch.stack`` of the
intermediate decoder outputs, ``_get_activation_fn``), ``models/position_encoding.py`` (the
sine embedding built with ``cumsum(dtype=...)`` over the inverted padding mask and the learned
one), ``util/box_ops.py`` (``unbind``/``stack`` box conversions, pairwise (generalised) IoU
through ``torchvision.ops.boxes.box_area``, ``masks_to_boxes`` with ``meshgrid`` and
``masked_fill``) and ``models/matcher.py`` (the Hungarian matcher: ``@torch.no_grad()``,
``pad_sequence``, ``torch.cdist(p=1)``, ``gather`` over an ``expand``-ed index, SciPy's
``linear_sum_assignment`` on the CPU cost and ``torch.as_tensor`` of its answer).
``util/misc.py``'s ``NestedTensor`` is stood in by a two-field class. Outputs, matchings and
gradients are compared with real PyTorch from the same weights and inputs (torchvision is not
installed there: its ``box_area`` is given as the one-line formula it is).
"""

# The project's code is kept verbatim, long lines and trailing spaces included.
# ruff: noqa: E501, W291

import warnings

import numpy as np
import pytest
from acceptance_runner import _sibling_modules, run

# models/transformer.py at commit 1d6a32809e9f37134dfc8fb9f792a9f131961788
TRANSFORMER = r'''# Copyright (c) Facebook, Inc. and its affiliates. All Rights Reserved
"""
DETR Transformer class.

Copy-paste from torch.nn.Transformer with modifications:
    * positional encodings are passed in MHattention
    * extra LN at the end of encoder is removed
    * decoder returns a stack of activations from all decoding layers
"""
import copy
from typing import Optional, List

import torch
import torch.nn.functional as F
from torch import nn, Tensor


class Transformer(nn.Module):

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6,
                 num_decoder_layers=6, dim_feedforward=2048, dropout=0.1,
                 activation="relu", normalize_before=False,
                 return_intermediate_dec=False):
        super().__init__()
         # encoder of the transformer layer
        encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward,
                                                dropout, activation, normalize_before)
        encoder_norm = nn.LayerNorm(d_model) if normalize_before else None
        self.encoder = TransformerEncoder(encoder_layer, num_encoder_layers, encoder_norm)

        decoder_layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward,
                                                dropout, activation, normalize_before)
        decoder_norm = nn.LayerNorm(d_model)
        self.decoder = TransformerDecoder(decoder_layer, num_decoder_layers, decoder_norm,
                                          return_intermediate=return_intermediate_dec)

        self._reset_parameters()

        self.d_model = d_model
        self.nhead = nhead

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, src, mask, query_embed, pos_embed):
        # flatten NxCxHxW to HWxNxC
        bs, c, h, w = src.shape
        src = src.flatten(2).permute(2, 0, 1)
        pos_embed = pos_embed.flatten(2).permute(2, 0, 1)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        mask = mask.flatten(1)

        tgt = torch.zeros_like(query_embed)
        memory = self.encoder(src, src_key_padding_mask=mask, pos=pos_embed)
        hs = self.decoder(tgt, memory, memory_key_padding_mask=mask,
                          pos=pos_embed, query_pos=query_embed)
        return hs.transpose(1, 2), memory.permute(1, 2, 0).view(bs, c, h, w)


class TransformerEncoder(nn.Module):

    def __init__(self, encoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src,
                mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None,
                pos: Optional[Tensor] = None):
        output = src

        for layer in self.layers:
            output = layer(output, src_mask=mask,
                           src_key_padding_mask=src_key_padding_mask, pos=pos)

        if self.norm is not None:
            output = self.norm(output)

        return output


class TransformerDecoder(nn.Module):

    def __init__(self, decoder_layer, num_layers, norm=None, return_intermediate=False):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.return_intermediate = return_intermediate

    def forward(self, tgt, memory,
                tgt_mask: Optional[Tensor] = None,
                memory_mask: Optional[Tensor] = None,
                tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None,
                pos: Optional[Tensor] = None,
                query_pos: Optional[Tensor] = None):
        output = tgt

        intermediate = []

        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask,
                           memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           pos=pos, query_pos=query_pos)
            if self.return_intermediate:
                intermediate.append(self.norm(output))

        if self.norm is not None:
            output = self.norm(output)
            if self.return_intermediate:
                intermediate.pop()
                intermediate.append(output)

        if self.return_intermediate:
            return torch.stack(intermediate)

        return output.unsqueeze(0)


class TransformerEncoderLayer(nn.Module):

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1,
                 activation="relu", normalize_before=False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        # Implementation of Feedforward model
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

        self.activation = _get_activation_fn(activation)
        self.normalize_before = normalize_before

    def with_pos_embed(self, tensor, pos: Optional[Tensor]):
        return tensor if pos is None else tensor + pos

    def forward_post(self,
                     src,
                     src_mask: Optional[Tensor] = None,
                     src_key_padding_mask: Optional[Tensor] = None,
                     pos: Optional[Tensor] = None):
        q = k = self.with_pos_embed(src, pos)
        src2 = self.self_attn(q, k, value=src, attn_mask=src_mask,
                              key_padding_mask=src_key_padding_mask)[0]
        src = src + self.dropout1(src2)
        src = self.norm1(src)
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src))))
        src = src + self.dropout2(src2)
        src = self.norm2(src)
        return src

    def forward_pre(self, src,
                    src_mask: Optional[Tensor] = None,
                    src_key_padding_mask: Optional[Tensor] = None,
                    pos: Optional[Tensor] = None):
        src2 = self.norm1(src)
        q = k = self.with_pos_embed(src2, pos)
        src2 = self.self_attn(q, k, value=src2, attn_mask=src_mask,
                              key_padding_mask=src_key_padding_mask)[0]
        src = src + self.dropout1(src2)
        src2 = self.norm2(src)
        src2 = self.linear2(self.dropout(self.activation(self.linear1(src2))))
        src = src + self.dropout2(src2)
        return src

    def forward(self, src,
                src_mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None,
                pos: Optional[Tensor] = None):
        if self.normalize_before:
            return self.forward_pre(src, src_mask, src_key_padding_mask, pos)
        return self.forward_post(src, src_mask, src_key_padding_mask, pos)


class TransformerDecoderLayer(nn.Module):

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1,
                 activation="relu", normalize_before=False):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout)
        # Implementation of Feedforward model
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)

        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

        self.activation = _get_activation_fn(activation)
        self.normalize_before = normalize_before

    def with_pos_embed(self, tensor, pos: Optional[Tensor]):
        return tensor if pos is None else tensor + pos

    def forward_post(self, tgt, memory,
                     tgt_mask: Optional[Tensor] = None,
                     memory_mask: Optional[Tensor] = None,
                     tgt_key_padding_mask: Optional[Tensor] = None,
                     memory_key_padding_mask: Optional[Tensor] = None,
                     pos: Optional[Tensor] = None,
                     query_pos: Optional[Tensor] = None):
        q = k = self.with_pos_embed(tgt, query_pos)
        tgt2 = self.self_attn(q, k, value=tgt, attn_mask=tgt_mask,
                              key_padding_mask=tgt_key_padding_mask)[0]
        tgt = tgt + self.dropout1(tgt2)
        tgt = self.norm1(tgt)
        tgt2 = self.multihead_attn(query=self.with_pos_embed(tgt, query_pos),
                                   key=self.with_pos_embed(memory, pos),
                                   value=memory, attn_mask=memory_mask,
                                   key_padding_mask=memory_key_padding_mask)[0]
        tgt = tgt + self.dropout2(tgt2)
        tgt = self.norm2(tgt)
        tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt))))
        tgt = tgt + self.dropout3(tgt2)
        tgt = self.norm3(tgt)
        return tgt

    def forward_pre(self, tgt, memory,
                    tgt_mask: Optional[Tensor] = None,
                    memory_mask: Optional[Tensor] = None,
                    tgt_key_padding_mask: Optional[Tensor] = None,
                    memory_key_padding_mask: Optional[Tensor] = None,
                    pos: Optional[Tensor] = None,
                    query_pos: Optional[Tensor] = None):
        tgt2 = self.norm1(tgt)
        q = k = self.with_pos_embed(tgt2, query_pos)
        tgt2 = self.self_attn(q, k, value=tgt2, attn_mask=tgt_mask,
                              key_padding_mask=tgt_key_padding_mask)[0]
        tgt = tgt + self.dropout1(tgt2)
        tgt2 = self.norm2(tgt)
        tgt2 = self.multihead_attn(query=self.with_pos_embed(tgt2, query_pos),
                                   key=self.with_pos_embed(memory, pos),
                                   value=memory, attn_mask=memory_mask,
                                   key_padding_mask=memory_key_padding_mask)[0]
        tgt = tgt + self.dropout2(tgt2)
        tgt2 = self.norm3(tgt)
        tgt2 = self.linear2(self.dropout(self.activation(self.linear1(tgt2))))
        tgt = tgt + self.dropout3(tgt2)
        return tgt

    def forward(self, tgt, memory,
                tgt_mask: Optional[Tensor] = None,
                memory_mask: Optional[Tensor] = None,
                tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None,
                pos: Optional[Tensor] = None,
                query_pos: Optional[Tensor] = None):
        if self.normalize_before:
            return self.forward_pre(tgt, memory, tgt_mask, memory_mask,
                                    tgt_key_padding_mask, memory_key_padding_mask, pos, query_pos)
        return self.forward_post(tgt, memory, tgt_mask, memory_mask,
                                 tgt_key_padding_mask, memory_key_padding_mask, pos, query_pos)


def _get_clones(module, N):
    return nn.ModuleList([copy.deepcopy(module) for i in range(N)])


def build_transformer(args):
    return Transformer(
        d_model=args.hidden_dim,
        dropout=args.dropout,
        nhead=args.nheads,
        dim_feedforward=args.dim_feedforward,
        num_encoder_layers=args.enc_layers,
        num_decoder_layers=args.dec_layers,
        normalize_before=args.pre_norm,
        return_intermediate_dec=True,
    )


def _get_activation_fn(activation):
    """Return an activation function given a string"""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if activation == "glu":
        return F.glu
    raise RuntimeError(F"activation should be relu/gelu, not {activation}.")
'''

# models/position_encoding.py at commit 11c5d51642a8bbe26d71ee85edcd5fc5eaf70abb
POSITION_ENCODING = r'''# Copyright (c) Facebook, Inc. and its affiliates. All Rights Reserved
"""
Various positional encodings for the transformer.
"""
import math
import torch
from torch import nn

from util.misc import NestedTensor


class PositionEmbeddingSine(nn.Module):
    """
    This is a more standard version of the position embedding, very similar to the one
    used by the Attention is all you need paper, generalized to work on images.
    """
    def __init__(self, num_pos_feats=64, temperature=10000, normalize=False, scale=None):
        super().__init__()
        self.num_pos_feats = num_pos_feats  # this comes from 
        self.temperature = temperature
        self.normalize = normalize
        if scale is not None and normalize is False:
            raise ValueError("normalize should be True if scale is passed")
        if scale is None:
            scale = 2 * math.pi
        self.scale = scale

    def forward(self, tensor_list: NestedTensor):
        x = tensor_list.tensors
        mask = tensor_list.mask
        assert mask is not None
        not_mask = ~mask
        y_embed = not_mask.cumsum(1, dtype=torch.float32)
        x_embed = not_mask.cumsum(2, dtype=torch.float32)
        if self.normalize:
            eps = 1e-6
            y_embed = y_embed / (y_embed[:, -1:, :] + eps) * self.scale
            x_embed = x_embed / (x_embed[:, :, -1:] + eps) * self.scale

        dim_t = torch.arange(self.num_pos_feats, dtype=torch.float32, device=x.device)
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_pos_feats) # this is the base frequency sin(pos/(10000^(2*i/ 0.5*arg.hidden_dim))). This is a constant, it doesn't change 

        pos_x = x_embed[:, :, :, None] / dim_t
        pos_y = y_embed[:, :, :, None] / dim_t
        pos_x = torch.stack((pos_x[:, :, :, 0::2].sin(), pos_x[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[:, :, :, 0::2].sin(), pos_y[:, :, :, 1::2].cos()), dim=4).flatten(3)
        pos = torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)
        return pos


class PositionEmbeddingLearned(nn.Module):
    """
    Absolute pos embedding, learned.
    """
    def __init__(self, num_pos_feats=256):
        super().__init__()
        self.row_embed = nn.Embedding(50, num_pos_feats)
        self.col_embed = nn.Embedding(50, num_pos_feats)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self, tensor_list: NestedTensor):
        x = tensor_list.tensors
        h, w = x.shape[-2:]
        i = torch.arange(w, device=x.device)
        j = torch.arange(h, device=x.device)
        x_emb = self.col_embed(i)
        y_emb = self.row_embed(j)
        pos = torch.cat([
            x_emb.unsqueeze(0).repeat(h, 1, 1),
            y_emb.unsqueeze(1).repeat(1, w, 1),
        ], dim=-1).permute(2, 0, 1).unsqueeze(0).repeat(x.shape[0], 1, 1, 1)
        return pos


def build_position_encoding(args):
    N_steps = args.hidden_dim // 2
    if args.position_embedding in ('v2', 'sine'):
        # TODO find a better way of exposing other arguments
        position_embedding = PositionEmbeddingSine(N_steps, normalize=True)
    elif args.position_embedding in ('v3', 'learned'):
        position_embedding = PositionEmbeddingLearned(N_steps)
    else:
        raise ValueError(f"not supported {args.position_embedding}")

    return position_embedding
'''

# util/box_ops.py at commit 2d90c6fe3a02025b4aa976a6b0b5aa843cfc6c7c
BOX_OPS = r'''# Copyright (c) Facebook, Inc. and its affiliates. All Rights Reserved
"""
Utilities for bounding box manipulation and GIoU.
"""
import torch
from torchvision.ops.boxes import box_area


def box_cxcywh_to_xyxy(x):
    x_c, y_c, w, h = x.unbind(-1)
    b = [(x_c - 0.5 * w), (y_c - 0.5 * h),
         (x_c + 0.5 * w), (y_c + 0.5 * h)]
    return torch.stack(b, dim=-1)


def box_xyxy_to_cxcywh(x):
    x0, y0, x1, y1 = x.unbind(-1)
    b = [(x0 + x1) / 2, (y0 + y1) / 2,
         (x1 - x0), (y1 - y0)]
    return torch.stack(b, dim=-1)


# Modified from torchvision to also return the union and to work only on the
# last two dimensions, assuming the other ones are identical.
def box_iou(boxes1, boxes2):
    lt = torch.max(boxes1[..., None, :2], boxes2[..., None, :, :2])  # [..., N,M,2]
    rb = torch.min(boxes1[..., None, 2:], boxes2[..., None, :, 2:])  # [..., N,M,2]

    wh = (rb - lt).clamp(min=0)  # [..., N,M,2]
    inter = wh[..., 0] * wh[..., 1]  # [..., N,M]

    area1 = box_area(boxes1.view(-1, 4)).view(boxes1.shape[:-1])
    area2 = box_area(boxes2.view(-1, 4)).view(boxes2.shape[:-1])
    union = area1[..., None] + area2[..., None, :] - inter

    iou = inter / union
    return iou, union


def generalized_box_iou(boxes1, boxes2):
    """
    Generalized IoU from https://giou.stanford.edu/

    The boxes should be in [x0, y0, x1, y1] format

    Returns a [N, M] pairwise matrix, where N = len(boxes1)
    and M = len(boxes2)
    """
    # degenerate boxes gives inf / nan results
    # so do an early check
    assert (boxes1[..., 2:] >= boxes1[..., :2]).all()
    assert (boxes2[..., 2:] >= boxes2[..., :2]).all()
    iou, union = box_iou(boxes1, boxes2)

    lt = torch.min(boxes1[..., None, :2], boxes2[..., None, :, :2])
    rb = torch.max(boxes1[..., None, 2:], boxes2[..., None, :, 2:])

    wh = (rb - lt).clamp(min=0)  # [..., N,M,2]
    area = wh[..., 0] * wh[..., 1]

    return iou - (area - union) / area


def masks_to_boxes(masks):
    """Compute the bounding boxes around the provided masks

    The masks should be in format [N, H, W] where N is the number of masks, (H, W) are the spatial dimensions.

    Returns a [N, 4] tensors, with the boxes in xyxy format
    """
    if masks.numel() == 0:
        return torch.zeros((0, 4), device=masks.device)

    h, w = masks.shape[-2:]

    y = torch.arange(0, h, dtype=torch.float)
    x = torch.arange(0, w, dtype=torch.float)
    y, x = torch.meshgrid(y, x)

    x_mask = (masks * x.unsqueeze(0))
    x_max = x_mask.flatten(1).max(-1)[0]
    x_min = x_mask.masked_fill(~(masks.bool()), 1e8).flatten(1).min(-1)[0]

    y_mask = (masks * y.unsqueeze(0))
    y_max = y_mask.flatten(1).max(-1)[0]
    y_min = y_mask.masked_fill(~(masks.bool()), 1e8).flatten(1).min(-1)[0]

    return torch.stack([x_min, y_min, x_max, y_max], 1)
'''

# models/matcher.py at commit 2d90c6fe3a02025b4aa976a6b0b5aa843cfc6c7c
MATCHER = r'''# Copyright (c) Facebook, Inc. and its affiliates. All Rights Reserved
"""
Modules to compute the matching cost and solve the corresponding LSAP.
"""
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from util.box_ops import box_cxcywh_to_xyxy, generalized_box_iou


class HungarianMatcher(nn.Module):
    """This class computes an assignment between the targets and the predictions of the network

    For efficiency reasons, the targets don't include the no_object. Because of this, in general,
    there are more predictions than targets. In this case, we do a 1-to-1 matching of the best predictions,
    while the others are un-matched (and thus treated as non-objects).
    """

    def __init__(self, cost_class: float = 1, cost_bbox: float = 1, cost_giou: float = 1):
        """Creates the matcher

        Params:
            cost_class: This is the relative weight of the classification error in the matching cost
            cost_bbox: This is the relative weight of the L1 error of the bounding box coordinates in the matching cost
            cost_giou: This is the relative weight of the giou loss of the bounding box in the matching cost
        """
        super().__init__()
        self.cost_class = cost_class
        self.cost_bbox = cost_bbox
        self.cost_giou = cost_giou
        assert cost_class != 0 or cost_bbox != 0 or cost_giou != 0, "all costs cant be 0"

    @torch.no_grad()
    def forward(self, outputs, targets):
        """ Performs the matching

        Params:
            outputs: This is a dict that contains at least these entries:
                 "pred_logits": Tensor of dim [batch_size, num_queries, num_classes] with the classification logits
                 "pred_boxes": Tensor of dim [batch_size, num_queries, 4] with the predicted box coordinates

            targets: This is a list of targets (len(targets) = batch_size), where each target is a dict containing:
                 "labels": Tensor of dim [num_target_boxes] (where num_target_boxes is the number of ground-truth
                           objects in the target) containing the class labels
                 "boxes": Tensor of dim [num_target_boxes, 4] containing the target box coordinates

        Returns:
            A list of size batch_size, containing tuples of (index_i, index_j) where:
                - index_i is the indices of the selected predictions (in order)
                - index_j is the indices of the corresponding selected targets (in order)
            For each batch element, it holds:
                len(index_i) = len(index_j) = min(num_queries, num_target_boxes)
        """
        # In the comments below:
        # - `bs` is the batch size, i.e. outputs["pred_logits"].shape[0];
        # - `mo` is the maximum number of objects over all the targets,
        # i.e. `max((len(v["labels"]) for v in targets))`;
        # - `q` is the number of queries, i.e. outputs["pred_logits"].shape[1];
        # - `cl` is the number of classes including no-object,
        # i.e. outputs["pred_logits"].shape[2] or self.num_classes + 1.
        if len(targets) == 1:
            # This branch is just an optimization, not needed for correctness.
            tgt_ids = targets[0]["labels"].unsqueeze(dim=0)
            tgt_bbox = targets[0]["boxes"].unsqueeze(dim=0)
        else:
            tgt_ids = pad_sequence(
                [target["labels"] for target in targets],
                batch_first=True,
                padding_value=0
            )  # (bs, mo)
            tgt_bbox = pad_sequence(
                [target["boxes"] for target in targets],
                batch_first=True,
                padding_value=0
            )  # (bs, mo, 4)

        out_bbox = outputs["pred_boxes"]  # (bs, q, 4)

        # Compute the L1 cost between boxes
        cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)  # (bs, q, mo)

        # Compute the giou cost betwen boxes
        out_bbox_xyxy = box_cxcywh_to_xyxy(out_bbox)
        tgt_bbox_xyxy = box_cxcywh_to_xyxy(tgt_bbox)
        giou = generalized_box_iou(
            out_bbox_xyxy, tgt_bbox_xyxy)  # (bs, q, mo)

        # Compute the classification cost. Contrary to the loss, we don't use
        # the Negative Log Likelihood, but approximate it
        # in `1 - proba[target class]`. The 1 is a constant that does not
        # change the matching, it can be ommitted.
        out_prob = outputs["pred_logits"].softmax(-1)  # (bs, q, c)
        prob_class = torch.gather(
            out_prob,
            dim=2,
            index=tgt_ids.unsqueeze(dim=1).expand(-1, out_prob.shape[1], -1)
        )  # (bs, q, mo)

        # Final cost matrix
        C = self.cost_bbox * cost_bbox - self.cost_giou * giou - self.cost_class * prob_class
        c = C.cpu()

        indices = [
            linear_sum_assignment(c[i, :, :len(v["labels"])])
            for i, v in enumerate(targets)
        ]
        return [
            (
                torch.as_tensor(i, dtype=torch.int64),
                torch.as_tensor(j, dtype=torch.int64),
            )
            for i, j in indices
        ]


def build_matcher(args):
    return HungarianMatcher(cost_class=args.set_cost_class, cost_bbox=args.set_cost_bbox, cost_giou=args.set_cost_giou)
'''

# Stand-in for util/misc.py's NestedTensor: the (tensors, mask) pair the embeddings read.
UTIL_MISC = """
class NestedTensor(object):
    def __init__(self, tensors, mask):
        self.tensors = tensors
        self.mask = mask
"""

MODULES = {"util": "", "util.misc": UTIL_MISC, "util.box_ops": BOX_OPS, "models": "",
           "models.transformer": TRANSFORMER, "models.position_encoding": POSITION_ENCODING,
           "models.matcher": MATCHER}

IMPORTS = """
import torch
import torch.nn.functional as F
from models.transformer import Transformer
from models.position_encoding import PositionEmbeddingSine, PositionEmbeddingLearned
from models.matcher import HungarianMatcher
from util.box_ops import box_cxcywh_to_xyxy, box_xyxy_to_cxcywh, generalized_box_iou, masks_to_boxes
from util.misc import NestedTensor
"""

# torchvision.ops.boxes.box_area, for real PyTorch where torchvision is not installed
TORCHVISION = {"torchvision": "", "torchvision.ops": "", "torchvision.ops.boxes": """
def box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
"""}


def _on_both():
    torch = pytest.importorskip("torch")
    ns = run(IMPORTS, modules=MODULES)
    ref = {"__name__": "detr_harness"}
    with _sibling_modules({**TORCHVISION, **MODULES}, print):
        exec(compile(IMPORTS, "<harness>", "exec"), ref)
    assert ref["torch"] is torch
    return ns, ref, ns["torch"], torch


def _copy(module, ref_module, torch):
    ref_module.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                                for k, v in module.state_dict().items()})


@pytest.mark.parametrize("normalize_before,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_with_sine_embedding_matches_torch(normalize_before, activation):
    ns, ref, et, torch = _on_both()
    et.manual_seed(0)
    kwargs = dict(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                  dim_feedforward=32, dropout=0.0, activation=activation,
                  normalize_before=normalize_before, return_intermediate_dec=True)
    models = [side["Transformer"](**kwargs) for side in (ns, ref)]
    queries = [lib.nn.Embedding(5, 16) for lib in (et, torch)]
    _copy(models[0], models[1], torch)
    _copy(queries[0], queries[1], torch)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((2, 16, 3, 4)).astype(np.float32)
    mask = np.zeros((2, 3, 4), bool)
    mask[1, :, 3:] = True  # the second image is padded on the right
    mask[1, 2:, :] = True  # and at the bottom
    results = []
    for side, lib, model, query in ((ns, et, models[0], queries[0]), (ref, torch, models[1], queries[1])):
        x = lib.tensor(src, requires_grad=True)
        m = lib.tensor(mask)
        pos = side["PositionEmbeddingSine"](8, normalize=True)(side["NestedTensor"](x, m))
        hs, memory = model(x, m, query.weight, pos)
        (hs.pow(2).mean() + memory.abs().mean()).backward()
        grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
        results.append((pos.numpy(), hs.detach().numpy(), memory.detach().numpy(), x.grad.numpy(),
                        query.weight.grad.numpy(), grads))
    (pos, hs, memory, gx, gq, grads), (r_pos, r_hs, r_memory, r_gx, r_gq, r_grads) = results
    assert hs.shape == (2, 2, 5, 16) and memory.shape == (2, 16, 3, 4)
    np.testing.assert_allclose(pos, r_pos, atol=1e-6)
    np.testing.assert_allclose(hs, r_hs, atol=1e-5)
    np.testing.assert_allclose(memory, r_memory, atol=1e-5)
    np.testing.assert_allclose(gx, r_gx, atol=1e-6)
    np.testing.assert_allclose(gq, r_gq, atol=1e-6)
    # the first decoder layer's self-attention sees zero targets: some of its gradients are
    # rounding noise (up to ~1e-5 of the largest gradient), so the tolerance follows that
    scale = max(np.abs(g).max() for g in r_grads.values())
    for name, g in r_grads.items():
        np.testing.assert_allclose(grads[name], g, atol=5e-5 * scale, err_msg=name)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        ns["Transformer"](d_model=4, nhead=1, activation="tanh")
    with pytest.raises(ValueError, match="normalize should be True if scale is passed"):
        ns["PositionEmbeddingSine"](8, scale=1.0)


def test_learned_position_embedding_matches_torch():
    ns, ref, et, torch = _on_both()
    embeds = [side["PositionEmbeddingLearned"](6) for side in (ns, ref)]
    assert 0 <= embeds[0].row_embed.weight.min() and embeds[0].row_embed.weight.max() < 1
    _copy(embeds[0], embeds[1], torch)
    x = np.zeros((2, 3, 4, 5), np.float32)
    pos = [e(side["NestedTensor"](lib.tensor(x), None)) for e, side, lib in
           ((embeds[0], ns, et), (embeds[1], ref, torch))]
    pos[0].sum().backward()
    pos[1].sum().backward()
    np.testing.assert_array_equal(pos[0].detach().numpy(), pos[1].detach().numpy())
    np.testing.assert_array_equal(embeds[0].col_embed.weight.grad.numpy(),
                                  embeds[1].col_embed.weight.grad.numpy())


def _boxes(rng, n):
    return np.concatenate([rng.uniform(0.3, 0.7, (n, 2)), rng.uniform(0.1, 0.4, (n, 2))], 1).astype(np.float32)


def test_matcher_and_box_losses_match_torch():
    ns, ref, et, torch = _on_both()
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2, 6, 4)).astype(np.float32)
    pred = np.stack([_boxes(rng, 6), _boxes(rng, 6)])
    targets = [(np.array([1, 3, 0]), _boxes(rng, 3)), (np.array([2]), _boxes(rng, 1))]
    results = []
    for side, lib in ((ns, et), (ref, torch)):
        boxes = lib.tensor(pred, requires_grad=True)
        outputs = {"pred_logits": lib.tensor(logits), "pred_boxes": boxes}
        tgts = [{"labels": lib.tensor(lab), "boxes": lib.tensor(box)} for lab, box in targets]
        matcher = side["HungarianMatcher"](cost_class=1, cost_bbox=5, cost_giou=2)
        indices = matcher(outputs, tgts)
        single = matcher({k: v[1:] for k, v in outputs.items()}, tgts[1:])
        # DETR's box losses on the matched pairs
        batch_idx = lib.cat([lib.full_like(src, i) for i, (src, _) in enumerate(indices)])
        src_idx = lib.cat([src for (src, _) in indices])
        src_boxes = boxes[(batch_idx, src_idx)]
        target_boxes = lib.cat([t["boxes"][i] for t, (_, i) in zip(tgts, indices)], dim=0)
        giou = side["generalized_box_iou"](side["box_cxcywh_to_xyxy"](src_boxes),
                                           side["box_cxcywh_to_xyxy"](target_boxes))
        loss = (1 - lib.diag(giou)).sum() + side["F"].l1_loss(src_boxes, target_boxes, reduction="none").sum()
        loss.backward()
        back = side["box_xyxy_to_cxcywh"](side["box_cxcywh_to_xyxy"](boxes.detach()))
        results.append(([(i.numpy(), j.numpy()) for i, j in indices + single],
                        [i.dtype == lib.int64 for i, _ in indices],
                        loss.item(), boxes.grad.numpy(), back.numpy()))
    (idx, dtypes, loss, grad, back), (r_idx, _, r_loss, r_grad, _) = results
    for (i, j), (ri, rj) in zip(idx, r_idx):
        np.testing.assert_array_equal(i, ri)
        np.testing.assert_array_equal(j, rj)
    assert all(dtypes) and len(idx[0][0]) == 3 and len(idx[1][0]) == 1
    assert abs(loss - r_loss) < 1e-5
    np.testing.assert_allclose(grad, r_grad, atol=1e-5)
    np.testing.assert_allclose(back, pred, atol=1e-6)
    degenerate = et.tensor([[0.5, 0.5, 0.4, 0.6]])
    with pytest.raises(AssertionError):
        ns["generalized_box_iou"](degenerate, degenerate)


def test_masks_to_boxes_matches_torch():
    ns, ref, et, torch = _on_both()
    masks = np.zeros((3, 5, 6), np.float32)
    masks[0, 1:4, 2:5] = 1
    masks[1, 0, 0] = 1
    masks[2, 2:, 1:3] = 1
    with pytest.warns(UserWarning, match="torch.meshgrid: in an upcoming release"):
        got = ns["masks_to_boxes"](et.tensor(masks))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same meshgrid warning, once per process there
        want = ref["masks_to_boxes"](torch.tensor(masks))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    empty = ns["masks_to_boxes"](et.zeros(0, 5, 6))
    assert empty.shape == (0, 4) and empty.dtype == et.float32
