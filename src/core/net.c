/* net.c: parse a model spec into layers, infer shapes, own the flat buffers,
 * and run forward/backward over the layer list. */
#include "nn/net.h"

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nn/error.h"
#include "nn/fileutil.h"
#include "nn/optim.h"

/* Spec files larger than this are refused (a spec of thousands of layers is
 * still far below it; anything bigger is not a model spec). */
#define NN_SPEC_FILE_MAX (1 << 20)


static int is_preset(const char *name) {
    char *s = nn_model_preset(name, 0, 0);
    free(s);
    return s != NULL;
}

/* A spec file, whole: a regular file of at most NN_SPEC_FILE_MAX bytes, text
 * (no NUL byte). Opened with O_NONBLOCK and checked with fstat, as the data
 * and checkpoint loaders do, so a FIFO (or a device) is refused at once
 * instead of blocking the job in open(2). NULL + message naming the file. */
static char *read_spec_file(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        nn_fail("%s: cannot read the model spec file (%s)", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    int serr = fstat(fd, &st) != 0 ? errno : 0;
    if (serr || !S_ISREG(st.st_mode)) {
        if (serr)
            nn_fail("%s: cannot read the model spec file (%s)", path, strerror(serr));
        else if (S_ISDIR(st.st_mode))
            nn_fail("%s: is a folder, expected a model spec file", path);
        else
            nn_fail("%s: not a regular file (%s); expected a model spec file", path,
                    nn_file_kind(st.st_mode));
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        nn_fail("%s: cannot read the model spec file (%s)", path, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap + 1);
    while (s) {
        if (n == cap) {
            if (cap > NN_SPEC_FILE_MAX) break;
            char *grown = realloc(s, 2 * cap + 1);
            if (!grown) {
                free(s);
                s = NULL;
                break;
            }
            s = grown, cap *= 2;
        }
        size_t r = fread(s + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (!s) {
        nn_fail("%s: out of memory reading the model spec", path);
        return NULL;
    }
    const char *bad = NULL;
    char why[200];
    if (err) {
        snprintf(why, sizeof why, "cannot read the model spec file (%s)", strerror(err));
        bad = why;
    } else if (n > NN_SPEC_FILE_MAX) {
        snprintf(why, sizeof why,
                 "larger than %d bytes (1 MB), the most a model spec file may hold", NN_SPEC_FILE_MAX);
        bad = why;
    } else if (memchr(s, 0, n)) {
        snprintf(why, sizeof why,
                 "byte %zu is NUL: a model spec is text (is this a binary file?)",
                 (size_t)((char *)memchr(s, 0, n) - s));
        bad = why;
    }
    if (bad) {
        free(s);
        nn_fail("%s: %s", path, bad);
        return NULL;
    }
    s[n] = 0;
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) memmove(s, s + 3, n - 2); /* UTF-8 BOM */
    return s;
}

static int parse_spec(const char *spec, nn_layer **out, int *count);

/* --model: a preset name; else a file, when a file of that name exists
 * (whatever characters the name holds, spaces included, so "my model.spec"
 * is read as a file); else, when the text holds a space, tab, ';' or newline,
 * an inline spec; else an error. A spec file is parsed here, so that its
 * syntax errors name the file ("model.spec: model spec line 3: unknown layer
 * type ..."); see nn_model_origin for the errors of building the net. */
char *nn_model_resolve(const char *model, int hidden, int classes) {
    if (!model) model = NN_DEFAULT_MODEL; /* --model not given */
    char *s = nn_model_preset(model, hidden, classes);
    if (s) return s;
    struct stat st;
    int e = 0;
    if (stat(model, &st) == 0) {
        s = read_spec_file(model);
        nn_layer *layers = NULL;
        int n = 0;
        if (s && parse_spec(s, &layers, &n) != NN_OK) {
            nn_fail_ctx("%s", model);
            free(s);
            return NULL;
        }
        free(layers);
        return s;
    }
    e = errno;
    if (strpbrk(model, " \t;\n")) return strdup(model);
    char q[300];
    nn_escaped(model, 200, q, sizeof q);
    if (strchr(model, '/') || strstr(model, ".spec"))
        nn_fail("--model %s: cannot read the model spec file (%s); not a preset (%s) either", q,
                strerror(e), nn_model_presets());
    else
        nn_fail("--model %s: not a preset (%s), not a readable spec file, and not an inline spec "
                "such as \"dense 100; sigmoid; dense 10\"",
                q, nn_model_presets());
    return NULL;
}

/* What nn_net_create should name as the origin of --model's spec: the file
 * when nn_model_resolve reads one, else "--model". */
const char *nn_model_origin(const char *model) {
    struct stat st;
    if (!model) return "--model";
    return !is_preset(model) && stat(model, &st) == 0 ? model : "--model";
}

/* Spec text as one line: '#' comments gone, blanks collapsed, ';' and
 * newlines ending layers. Never longer than the text: every byte written
 * stands for one read. */
char *nn_spec_canonical(const char *spec) {
    char *out = malloc(strlen(spec) + 1);
    if (!out) {
        nn_fail("out of memory comparing model specs");
        return NULL;
    }
    size_t n = 0;
    int in_comment = 0, blank = 0;
    for (const char *p = spec; *p; p++) {
        const char ch = *p;
        if (ch == '\n' || ch == ';') {
            in_comment = 0, blank = 0;
            if (n > 0 && out[n - 1] != ';') out[n++] = ';';
        } else if (in_comment || ch == '#') {
            in_comment = 1;
        } else if (ch == ' ' || ch == '\t' || ch == '\r') {
            blank = n > 0 && out[n - 1] != ';';
        } else {
            if (blank) out[n++] = ' ';
            blank = 0;
            out[n++] = ch;
        }
    }
    if (n > 0 && out[n - 1] == ';') n--;
    out[n] = 0;
    return out;
}

/* ---- parsing ------------------------------------------------------------ */

static int printable(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) return 0;
    return 1;
}

/* Split one spec line into a layer: "type [value] [key=value ...]". Every
 * token quoted in a message is escaped (nn_escaped()); a token holding a byte
 * outside printable ASCII is an error here, so no layer's own message can
 * echo one. A key or value longer than nn_opt holds is an error, not cut. */
static int parse_line(char *line, int lineno, nn_layer *l) {
    char *save = NULL, *tok = strtok_r(line, " \t\r", &save);
    char q[200];
    const nn_layer_ops *ops = nn_layer_find(tok);
    if (!ops)
        return nn_fail("model spec line %d: unknown layer type '%s' (known: %s)", lineno,
                       nn_escaped(tok, 60, q, sizeof q), nn_layer_types());
    l->ops = ops;
    l->line = lineno;
    int col = 0;
    while ((tok = strtok_r(NULL, " \t\r", &save))) {
        col++;
        if (!printable(tok))
            return nn_fail("model spec line %d: %s: '%s' holds a byte that is not printable "
                           "ASCII (is this a binary file?)",
                           lineno, ops->type, nn_escaped(tok, 60, q, sizeof q));
        if (l->nopts == NN_MAX_OPTS)
            return nn_fail("model spec line %d: too many options for %s (at most %d)", lineno,
                           ops->type, NN_MAX_OPTS);
        nn_opt *o = &l->opts[l->nopts++];
        char *eq = strchr(tok, '=');
        const char *key = ops->positional, *val = tok;
        if (!eq) {
            if (col != 1 || !ops->positional)
                return nn_fail("model spec line %d: %s: '%s' needs the form key=value (%s)",
                               lineno, ops->type, nn_escaped(tok, 60, q, sizeof q), ops->help);
        } else {
            *eq = 0;
            key = tok, val = eq + 1;
        }
        if (strlen(key) >= sizeof o->key || strlen(val) >= sizeof o->val)
            return nn_fail("model spec line %d: %s: option '%s' is too long (key at most %zu, "
                           "value at most %zu characters)",
                           lineno, ops->type, nn_escaped(key, 40, q, sizeof q), sizeof o->key - 1,
                           sizeof o->val - 1);
        for (int k = 0; k < l->nopts - 1; k++)
            if (!strcmp(l->opts[k].key, key))
                return nn_fail("model spec line %d: %s: option '%s' given twice ('%s' and "
                               "'%s'%s); give it once",
                               lineno, ops->type, nn_escaped(key, 40, q, sizeof q),
                               l->opts[k].val, val,
                               ops->positional && !strcmp(key, ops->positional)
                                   ? ", the first as the positional value"
                                   : "");
        snprintf(o->key, sizeof o->key, "%s", key);
        snprintf(o->val, sizeof o->val, "%s", val);
    }
    return NN_OK;
}

static int parse_spec(const char *spec, nn_layer **out, int *count) {
    char *text = strdup(spec);
    if (!text) return nn_fail("out of memory parsing model spec");
    int cap = 8, n = 0, lineno = 0;
    nn_layer *layers = calloc((size_t)cap, sizeof *layers);
    char *save = NULL;
    int rc = NN_OK;
    /* Newlines separate lines; ';' separates layers within a line. */
    for (char *line = text; line && rc == NN_OK;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        for (char *part = strtok_r(line, ";", &save); part && rc == NN_OK;
             part = strtok_r(NULL, ";", &save)) {
            while (isspace((unsigned char)*part)) part++;
            if (!*part) continue;
            if (n == cap) {
                cap *= 2;
                nn_layer *grown = realloc(layers, (size_t)cap * sizeof *layers);
                if (!grown) {
                    rc = nn_fail("out of memory parsing model spec");
                    break;
                }
                layers = grown;
                memset(layers + n, 0, (size_t)(cap - n) * sizeof *layers);
            }
            rc = parse_line(part, lineno, &layers[n]);
            n++;
        }
        save = NULL;
        line = next;
    }
    free(text);
    if (rc == NN_OK && n == 0) rc = nn_fail("model spec is empty: it names no layer");
    if (rc != NN_OK) {
        free(layers);
        return NN_ERR;
    }
    *out = layers;
    *count = n;
    return NN_OK;
}

/* ---- building ----------------------------------------------------------- */

/* The most a net's buffers may take, all together (bytes); the fuzzing build
 * sets it below libFuzzer's malloc limit. */
#ifndef NN_MAX_NET_BYTES
#define NN_MAX_NET_BYTES (64ull << 30)
#endif

/* The raw value of option `key` as written in the spec ("" when absent);
 * does not mark it used (the layer's setup reads it again). */
static const char *spec_value(const nn_layer *l, const char *key) {
    for (int i = 0; i < l->nopts; i++)
        if (!strcmp(l->opts[i].key, key)) return l->opts[i].val;
    return "";
}

/* Skip connections: link every joining layer ("add res1") to the nearest
 * earlier labelled one ("save res1"), one join per label. */
static int link_skips(nn_net *net, const char *origin) {
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        const char *key = l->ops->label_key ? l->ops->label_key : l->ops->join_key;
        if (key && !*spec_value(l, key))
            return nn_fail("%s: model spec line %d: %s needs a name (%s)", origin, l->line,
                           l->ops->type, l->ops->help);
        if (!l->ops->join_key) continue;
        const char *name = spec_value(l, l->ops->join_key);
        nn_layer *to = NULL;
        for (int j = i - 1; j >= 0 && !to; j--)
            if (net->layers[j].ops->label_key &&
                !strcmp(spec_value(&net->layers[j], net->layers[j].ops->label_key), name))
                to = &net->layers[j];
        if (!to)
            return nn_fail("%s: model spec line %d: '%s %s' joins a point no earlier layer saved "
                           "(write 'save %s' where the skip starts)",
                           origin, l->line, l->ops->type, name, name);
        if (to->link)
            return nn_fail("%s: model spec line %d: '%s %s': the point saved at line %d is "
                           "already joined at line %d (one join per saved point; save it "
                           "again under another name)",
                           origin, l->line, l->ops->type, name, to->line, to->link->line);
        to->link = l;
        l->link = to;
    }
    return NN_OK;
}

/* n floats of the backend's memory, zeroed; NULL + message when out of it. */
static float *balloc(const nn_backend *be, size_t n, const char *what) {
    float *p = be->alloc(n * sizeof(float));
    if (!p) nn_fail("out of memory allocating %zu floats for %s", n, what);
    return p;
}

int nn_net_create(nn_net *net, const char *spec, const char *origin, nn_shape in, int classes,
                  int max_n, const nn_backend *be) {
    memset(net, 0, sizeof *net);
    net->be = be;
    net->in = in;
    net->max_n = max_n;
    net->spec = strdup(spec);
    net->origin = strdup(origin ? origin : "--model");
    if (parse_spec(spec, &net->layers, &net->nlayers) != NN_OK) {
        nn_fail_ctx("%s", origin);
        nn_net_free(net);
        return NN_ERR;
    }
    if (link_skips(net, origin) != NN_OK) {
        nn_net_free(net);
        return NN_ERR;
    }
    /* Shape inference, names, parameter counts. */
    nn_shape cur = in;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        l->be = be;
        l->in = cur;
        l->index = i;
        int t = 0;
        for (int j = 0; j < i; j++)
            if (net->layers[j].ops == l->ops) t++;
        snprintf(l->name, sizeof l->name, "%s_%d", l->ops->type, t + 1);
        if (l->ops->setup(l) != NN_OK) {
            nn_fail_ctx("%s", origin);
            nn_net_free(net);
            return NN_ERR;
        }
        for (int k = 0; k < l->nopts; k++)
            if (!l->opts[k].used) {
                nn_fail("%s: model spec line %d: layer %s: unknown option '%s' (%s)", origin,
                        l->line, l->name, l->opts[k].key, l->ops->help);
                nn_net_free(net);
                return NN_ERR;
            }
        cur = l->out;
        net->nparams += l->nparams;
        net->nstate += l->nstate;
    }
    if (classes > 0 && nn_shape_size(cur) != (size_t)classes) {
        nn_fail("%s: the last layer (%s) has %zu outputs but the data set has %d classes", origin,
                net->layers[net->nlayers - 1].name, nn_shape_size(cur), classes);
        nn_net_free(net);
        return NN_ERR;
    }
    /* max_n 0: the layers and their shapes only (summary, help models). */
    if (max_n == 0) return NN_OK;
    /* One buffer each for params, grads, state; activations per layer. */
    size_t max_act = nn_shape_size(in), scratch = 0;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        if (nn_shape_size(l->out) > max_act) max_act = nn_shape_size(l->out);
        if (l->ops->scratch) {
            size_t s = l->ops->scratch(l, max_n);
            if (s > scratch) scratch = s;
        }
    }
    /* A spec whose buffers could not be meant ("dense 1099999" after a
     * 784-value input is 3.4 GB of weights) is refused by size, in double
     * so that no product can overflow. */
    double acts = 0; /* per sample: every layer's output, and a skip's gradient */
    for (int i = 0; i < net->nlayers; i++)
        acts += (double)nn_shape_size(net->layers[i].out) *
                (net->layers[i].link && net->layers[i].ops->label_key ? 2 : 1);
    const double bytes = 4.0 * (2.0 * (double)net->nparams + (double)net->nstate + (double)scratch +
                                (double)max_n * (acts + 2.0 * (double)max_act));
    if (bytes > (double)NN_MAX_NET_BYTES) {
        nn_fail("%s: the net needs %.3g GB of buffers for batch slices of %d (parameters, "
                "gradients, activations), more than the %.3g GB a net may have; a layer too "
                "wide?",
                origin, bytes / 1e9, max_n, (double)NN_MAX_NET_BYTES / 1e9);
        nn_net_free(net);
        return NN_ERR;
    }
    /* ... and, on the CPU, by the memory the machine has. */
    if (be == nn_backend_cpu()) {
        char what[200];
        snprintf(what, sizeof what, "%s: the net's buffers for batch slices of %d (parameters, "
                                    "gradients, activations; a layer too wide?)",
                 origin, max_n);
        if (nn_check_memory(bytes, what) != NN_OK) {
            nn_net_free(net);
            return NN_ERR;
        }
    }
    /* The buffers the layers compute on are the backend's memory. */
    net->params = balloc(be, net->nparams, "parameters");
    net->grads = balloc(be, net->nparams + NN_NET_METRICS, "gradients");
    net->own_grads = true;
    net->state = balloc(be, net->nstate, "layer state");
    net->acts = nn_calloc((size_t)net->nlayers, sizeof(float *), "activations");
    net->dbuf[0] = balloc(be, (size_t)max_n * max_act, "backward buffer");
    net->dbuf[1] = balloc(be, (size_t)max_n * max_act, "backward buffer");
    net->scratch = balloc(be, scratch, "layer scratch");
    if (!net->params || !net->grads || !net->state || !net->acts || !net->dbuf[0] ||
        !net->dbuf[1] || !net->scratch) {
        nn_net_free(net);
        return NN_ERR;
    }
    size_t po = 0, so = 0;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        l->w = net->params + po;
        l->dw = net->grads + po;
        l->state = net->state + so;
        l->scratch = net->scratch;
        po += l->nparams;
        so += l->nstate;
        net->acts[i] = balloc(be, (size_t)max_n * nn_shape_size(l->out), l->name);
        if (!net->acts[i]) {
            nn_net_free(net);
            return NN_ERR;
        }
        if (l->link && l->ops->label_key) { /* a skip's start: its buffers, for both ends */
            l->link_grad = l->link->link_grad =
                balloc(be, (size_t)max_n * nn_shape_size(l->out), "skip connection");
            if (!l->link_grad) {
                nn_net_free(net);
                return NN_ERR;
            }
            l->link_act = l->link->link_act = net->acts[i];
        }
    }
    return NN_OK;
}

void nn_net_free(nn_net *net) {
    const nn_backend *be = net->be;
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        if (l->ops && l->ops->free && l->priv) l->ops->free(l);
        free(l->priv);
        if (net->acts && net->acts[i]) be->free(net->acts[i]);
        if (l->ops && l->ops->label_key && l->link_grad) be->free(l->link_grad);
    }
    free(net->layers);
    free(net->acts);
    float *owned[] = {net->params, net->own_grads ? net->grads : NULL, net->state,
                      net->dbuf[0], net->dbuf[1], net->scratch};
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
        if (owned[i]) be->free(owned[i]);
    free(net->spec);
    free(net->origin);
    free(net->layer_s);
    memset(net, 0, sizeof *net);
}

void nn_net_init(nn_net *net, uint64_t seed) {
    for (int i = 0; i < net->nlayers; i++) {
        nn_layer *l = &net->layers[i];
        nn_rng rng;
        nn_rng_seed(&rng, seed, 1000 + (uint64_t)i);
        if (l->ops->init) l->ops->init(l, &rng);
    }
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int nn_net_time_layers(nn_net *net) {
    if (net->layer_s) return NN_OK;
    net->layer_s = nn_calloc(4 * (size_t)net->nlayers, sizeof(double), "layer times");
    if (!net->layer_s) return NN_ERR;
    net->layer_flop = net->layer_s + 2 * (size_t)net->nlayers;
    return NN_OK;
}

void nn_net_time_reset(nn_net *net) {
    if (net->layer_s) memset(net->layer_s, 0, 4 * (size_t)net->nlayers * sizeof(double));
}

int nn_net_check_outputs(const nn_net *net, const float *y, int n, double loss) {
    const size_t k = nn_net_out_size(net), m = (size_t)n * k;
    size_t bad = 0;
    for (size_t i = 0; i < m; i++) bad += !isfinite(y[i]);
    if (bad == 0 && (isnan(loss) || isfinite(loss))) return NN_OK;
    size_t badw = 0;
    for (size_t i = 0; i < net->nparams; i++) badw += !isfinite(net->params[i]);
    const char *who = net->origin ? net->origin : "--model";
    if (bad == 0)
        return nn_fail("%s: the model's loss on %d sample(s) is %g: its outputs (logits) are "
                       "finite but too far apart for float32 (weights too large); no loss or "
                       "accuracy can be computed",
                       who, n, loss);
    return nn_fail("%s: the model's outputs overflow: %zu of the %zu outputs (logits) of %d "
                   "sample(s) are NaN or infinite, %s; no class, loss or accuracy can be computed",
                   who, bad, m, n,
                   badw ? "and its weights hold non-finite values"
                        : "though every weight is finite: the weights are too large for float32 "
                          "arithmetic (e.g. 3e38)");
}

int nn_net_forward(nn_net *net, const nn_ctx *c, const float *x, const float **logits) {
    return nn_net_forward_until(net, c, x, net->nlayers, logits);
}

int nn_net_forward_until(nn_net *net, const nn_ctx *c, const float *x, int stop,
                         const float **out) {
    if (c->n > net->max_n)
        return nn_fail("batch slice of %d samples exceeds the net's buffers (%d)", c->n,
                       net->max_n);
    const float *cur = x;
    const bool timed = net->layer_s && c->train; /* training steps only, not evaluation */
    for (int i = 0; i < stop; i++) {
        nn_layer *l = &net->layers[i];
        const double t0 = timed ? now_s() : 0;
        if (l->ops->forward(l, c, cur, net->acts[i]) != NN_OK) return nn_fail_ctx("%s", l->name);
        if (timed) {
            net->layer_s[2 * i] += now_s() - t0;
            if (l->ops->flops) net->layer_flop[2 * i] += l->ops->flops(l) * c->n;
        }
        cur = net->acts[i];
    }
    *out = cur;
    return NN_OK;
}

int nn_net_backward(nn_net *net, const nn_ctx *c, const float *x, const float *dlogits) {
    return nn_net_backward_dx(net, c, x, dlogits, NULL);
}

/* The lowest layer whose backward anyone needs: without dx_in, the layers
 * below the lowest one with gradients to make only pass gradients down to
 * nobody (a normalize stem, say), and that layer needs no input gradient. */
static int lowest_needed(const nn_net *net, const nn_ctx *c, const float *dx_in) {
    if (dx_in) return 0;
    if (c->no_param_grads) return net->nlayers;
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].nparams > 0) return i;
    return net->nlayers;
}

int nn_net_backward_dx(nn_net *net, const nn_ctx *c, const float *x, const float *dlogits,
                       float *dx_in) {
    const float *dy = dlogits;
    const int lo = lowest_needed(net, c, dx_in);
    for (int i = net->nlayers - 1; i >= 0; i--) {
        nn_layer *l = &net->layers[i];
        const float *in = i ? net->acts[i - 1] : x;
        float *dx = i > lo ? net->dbuf[i & 1] : i ? NULL : dx_in;
        if (i >= lo) {
            const double t0 = net->layer_s ? now_s() : 0;
            if (l->ops->backward(l, c, in, net->acts[i], dy, dx) != NN_OK)
                return nn_fail_ctx("%s (backward)", l->name);
            if (net->layer_s) {
                net->layer_s[2 * i + 1] += now_s() - t0;
                /* a forward's worth for dx, another for the parameter gradients */
                const int parts = (dx != NULL) + (l->nparams > 0 && !c->no_param_grads);
                if (l->ops->flops) net->layer_flop[2 * i + 1] += l->ops->flops(l) * c->n * parts;
            }
        }
        if (net->grads_final && net->grads_final(net->grads_final_arg, (size_t)(l->dw - net->grads)))
            return nn_fail_ctx("%s (gradient reduction)", l->name);
        dy = dx;
    }
    return NN_OK;
}

void nn_net_use_grads(nn_net *net, float *buf) {
    net->be->to_host(buf, net->grads, (net->nparams + NN_NET_METRICS) * sizeof(float));
    if (net->own_grads) net->be->free(net->grads);
    for (int i = 0; i < net->nlayers; i++)
        net->layers[i].dw = buf + (net->layers[i].w - net->params);
    net->grads = buf;
    net->own_grads = false;
}

int nn_net_lr_runs(const nn_net *net, nn_optim *o, int epoch) {
    int cap = 1;
    for (int i = 0; i < net->nlayers; i++) cap += net->layers[i].nparam_tensors;
    nn_lr_run *runs = nn_calloc((size_t)cap, sizeof *runs, "learning-rate runs");
    if (!runs) return NN_ERR;
    int nr = 0;
    size_t base = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        for (int t = 0; t < l->nparam_tensors; t++) {
            const nn_tensor_desc *d = &l->params[t];
            const float k = d->epochs > 0 && epoch >= d->epochs ? 0.0f : d->lr_scale;
            if (nr > 0 && runs[nr - 1].scale == k)
                runs[nr - 1].n += d->size;
            else
                runs[nr++] = (nn_lr_run){base + d->offset, d->size, k};
        }
        base += l->nparams;
    }
    int rc = nn_optim_set_lr_runs(o, runs, nr);
    free(runs);
    return rc;
}

void nn_net_zero_grad(nn_net *net) {
    net->be->zero(net->grads, (net->nparams + NN_NET_METRICS) * sizeof(float));
}

size_t nn_net_out_size(const nn_net *net) {
    return nn_shape_size(net->layers[net->nlayers - 1].out);
}

static void fmt_count(double v, char *buf, size_t n) {
    if (v >= 1e9)
        snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

double nn_net_flops(const nn_net *net) {
    double total = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        total += l->ops->flops ? l->ops->flops(l) : 0;
    }
    return total;
}

void nn_net_summary(const nn_net *net, FILE *f) {
    fprintf(f, "%-20s %-16s %12s %12s\n", "Layer (type)", "Output shape", "Params", "FLOPs");
    fprintf(f, "%.*s\n", 63, "===============================================================");
    char in[48];
    snprintf(in, sizeof in, "(%d, %d, %d)", net->in.c, net->in.h, net->in.w);
    fprintf(f, "%-20s %-16s %12d %12d\n", "input", in, 0, 0);
    double total_flops = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const nn_layer *l = &net->layers[i];
        char shape[48], fl[32];
        if (l->out.h == 1 && l->out.w == 1)
            snprintf(shape, sizeof shape, "(%d)", l->out.c);
        else
            snprintf(shape, sizeof shape, "(%d, %d, %d)", l->out.c, l->out.h, l->out.w);
        double flops = l->ops->flops ? l->ops->flops(l) : 0;
        total_flops += flops;
        fmt_count(flops, fl, sizeof fl);
        char name[48];
        if (l->link) /* a skip's ends: "save_1 [res1]", "add_1 [+res1]" */
            snprintf(name, sizeof name, "%s [%s%s]", l->name, l->ops->join_key ? "+" : "",
                     spec_value(l, l->ops->join_key ? l->ops->join_key : l->ops->label_key));
        else
            snprintf(name, sizeof name, "%s", l->name);
        fprintf(f, "%-20s %-16s %12zu %12s\n", name, shape, l->nparams, fl);
    }
    char fl[32];
    fmt_count(total_flops, fl, sizeof fl);
    fprintf(f, "%.*s\n", 63, "===============================================================");
    fprintf(f, "Total params: %zu (%.2f MB)   Non-trainable state: %zu\n", net->nparams,
            net->nparams * 4.0 / 1e6, net->nstate);
    fprintf(f, "Forward FLOPs per sample: %s (training ~3x)\n", fl);
}
