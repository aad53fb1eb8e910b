/* models/gpt.c — a character-level GPT: GPT-2's pre-layer-norm decoder, small.
 *
 *   class GPT(nn.Module):
 *       def __init__(self, vocab, context, width, heads, layers):
 *           self.wte = nn.Embedding(vocab, width)       # token embeddings
 *           self.wpe = nn.Embedding(context, width)     # position embeddings
 *           self.h = nn.ModuleList([Block(width, heads) for _ in range(layers)])
 *           self.ln_f = nn.LayerNorm(width)
 *           self.lm_head = nn.Linear(width, vocab, bias=False)
 *       def forward(self, idx):                         # int64 [B, T], T <= context
 *           x = self.wte(idx) + self.wpe(torch.arange(T))
 *           for block in self.h: x = block(x)           # causal self-attention + MLP
 *           return self.lm_head(self.ln_f(x))           # logits [B, T, vocab]
 *
 * Block is nb_transformer_block_new (ln_1, attn, ln_2, mlp = Linear(E, 4E), GELU,
 * Linear(4E, E)). PyTorch's default initialisation; tests/models/gen_gpt_golden.py is the
 * same model in PyTorch, with the same state_dict names.
 */
#include <stdio.h>
#include <stdlib.h>

#include "models.h"

typedef struct gpt_cfg {
  int64_t context;
} gpt_cfg;

static nb_tensor *gpt_forward(nb_module *self, nb_tensor *idx) {
  const gpt_cfg *c = nb_module_user(self);
  if (nb_ndim(idx) != 2 || nb_dtype_of(idx) != NB_I64 || nb_shape(idx)[1] > c->context ||
      nb_shape(idx)[1] < 1) {
    nb_set_error(NB_ESHAPE, "GPT: expected int64 token ids [batch, T] with 1 <= T <= %lld, got %s %s",
                 (long long)c->context, nb_dtype_name(nb_dtype_of(idx)), nb_shape_of(idx));
    return NULL;
  }
  nb_tensor *pos = nb_arange(0, (double)nb_shape(idx)[1], 1, NB_I64);
  nb_tensor *tok = model_fwd(self, "wte", idx), *where = model_fwd(self, "wpe", pos);
  nb_tensor *x = tok && where ? nb_add(tok, where) : NULL; /* [B,T,E] + [T,E] */
  nb_module *h = nb_module_child(self, "h");
  for (int i = 0; x && i < nb_module_num_children(h); i++)
    x = nb_module_forward(nb_module_child_at(h, i, NULL), x);
  return model_fwd(self, "lm_head", model_fwd(self, "ln_f", x));
}

nb_module *gpt_new(int64_t vocab, int64_t context, int64_t width, int64_t heads, int64_t layers,
                   nb_generator *g) {
  if (vocab < 1 || context < 1 || width < 1 || heads < 1 || layers < 0 || width % heads) {
    nb_set_error(NB_EINVAL, "GPT: need vocab, context, width, heads >= 1, layers >= 0 and width "
                 "divisible by heads (got %lld, %lld, %lld, %lld, %lld)", (long long)vocab,
                 (long long)context, (long long)width, (long long)heads, (long long)layers);
    return NULL;
  }
  gpt_cfg *c = malloc(sizeof *c);
  nb_module *m = c ? nb_module_new("GPT", gpt_forward, c, free) : NULL;
  if (!m) {
    free(c);
    return NULL;
  }
  c->context = context;
  /* a ModuleList: a container whose children are named 0, 1, ... */
  nb_module *h = nb_module_new("ModuleList", NULL, NULL, NULL);
  for (int64_t i = 0; h && i < layers; i++) {
    char name[24];
    snprintf(name, sizeof name, "%lld", (long long)i);
    if (nb_module_add(h, name, nb_transformer_block_new(width, heads, 4 * width, true, g)) < 0) {
      nb_module_free(h);
      h = NULL;
    }
  }
  static const char *const names[] = {"wte", "wpe", "h", "ln_f", "lm_head"};
  nb_module *kids[] = {nb_embedding_new(vocab, width, NB_NO_PADDING, g),
                       nb_embedding_new(context, width, NB_NO_PADDING, g), h,
                       nb_layer_norm_new(1, &width, 1e-5, true), nb_linear_new(width, vocab, false, g)};
  return model_add_all(m, 5, names, kids);
}
