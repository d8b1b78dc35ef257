/* args.c: the command line into nn_args, by the tables alone: the command
 * (commands.c), then each flag (flags.c) as `--name value`, `--name=value`
 * or `-x value`, checked against its type, range, choices and the commands
 * it applies to, then the positional arguments the command takes.
 *
 * Why not getopt_long: it accepts any unambiguous prefix of a long name
 * (`--epoch` would silently mean `--epochs`, and a flag added later would
 * break scripts that relied on a prefix), an optional value only in the
 * `--flag=value` form (`--flip alternate` has always been two words), and it
 * knows nothing of commands. Tokenizing by hand is thirty lines; every rule
 * lives in the tables. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/error.h"
#include "nn/loss.h"
#include "nn/progress.h"

/* ---- did you mean ------------------------------------------------------- */

/* Optimal string alignment distance (a swap of two neighbours is one edit). */
static int edit_distance(const char *a, const char *b) {
    const int n = (int)strlen(a), m = (int)strlen(b);
    if (n > 63 || m > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            int c = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + c;
            if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *nn_closest(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int bd = (int)(strlen(s) + 2) / 3; /* at most a third of the word wrong */
    if (bd < 1) bd = 1;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, names[i]);
        if (d <= bd && (!best || d < edit_distance(s, best))) best = names[i];
    }
    return best;
}

/* ---- the tables --------------------------------------------------------- */

const nn_command *nn_command_find(const char *name) {
    for (int i = 0; i < NN_CMD_COUNT; i++)
        if (!strcmp(nn_commands[i].name, name)) return &nn_commands[i];
    return NULL;
}

const nn_flag *nn_flag_find(const char *name) {
    for (int i = 0; i < nn_nflags; i++)
        if (!strcmp(nn_flags[i].name, name)) return &nn_flags[i];
    return NULL;
}

/* The row of `name` for command c: a name may have a row per set of
 * commands (--generator: a spec for gan, a switch for export). */
static const nn_flag *flag_for(const char *name, nn_cmd_id c) {
    for (int i = 0; i < nn_nflags; i++)
        if (!strcmp(nn_flags[i].name, name) && (nn_flags[i].cmds & NN_CMD_BIT(c)))
            return &nn_flags[i];
    return nn_flag_find(name);
}

static const nn_flag *flag_short(char s, nn_cmd_id c) {
    for (int i = 0; i < nn_nflags; i++)
        if (nn_flags[i].shortname == s) return flag_for(nn_flags[i].name, c);
    return NULL;
}

bool nn_args_given(const nn_args *a, const char *name) {
    for (int i = 0; i < nn_nflags; i++)
        if (a->given[i] && !strcmp(nn_flags[i].name, name)) return true;
    return false;
}

/* "train, gan and eval": the commands of every row of this name. */
static void commands_of(const char *name, char *buf, size_t n) {
    unsigned cmds = 0;
    for (int i = 0; i < nn_nflags; i++)
        if (!strcmp(nn_flags[i].name, name)) cmds |= nn_flags[i].cmds;
    buf[0] = 0;
    for (int c = 0; c < NN_CMD_COUNT; c++)
        if (cmds & NN_CMD_BIT(c))
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     nn_commands[c].name);
}

/* "a, b or c" of a choice list. */
static void choices_text(const nn_choice *ch, char *buf, size_t n) {
    int k = 0;
    while (ch[k].name) k++;
    buf[0] = 0;
    for (int i = 0; i < k; i++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ",
                 ch[i].name);
}

static const nn_choice *choice_of(const nn_choice *ch, const char *v) {
    for (; ch && ch->name; ch++)
        if (!strcmp(ch->name, v)) return ch;
    return NULL;
}

/* ---- values ------------------------------------------------------------- */

static int bad_value(const nn_flag *f, const char *v, const char *expected) {
    char q[120];
    return nn_fail("--%s %s: expected %s", f->name, nn_escaped(v, 80, q, sizeof q), expected);
}

static int set_number(nn_args *a, const nn_flag *f, const char *v) {
    char *end, what[120];
    void *dst = (char *)a + f->off;
    errno = 0;
    if (f->type == NN_F_INT || f->type == NN_F_LONG || f->type == NN_F_SEED) {
        long long x = strtoll(v, &end, 10);
        snprintf(what, sizeof what, "an integer in [%.0f, %.0f]", f->min, f->max);
        if (errno || end == v || *end || x < f->min || x > f->max) return bad_value(f, v, what);
        if (f->type == NN_F_INT) *(int *)dst = (int)x;
        else if (f->type == NN_F_LONG) *(long *)dst = (long)x;
        else *(uint64_t *)dst = (uint64_t)x;
        return NN_OK;
    }
    double x = strtod(v, &end);
    snprintf(what, sizeof what, "a number in [%g, %g]", f->min, f->max);
    if (errno || end == v || *end || !(x >= f->min && x <= f->max)) return bad_value(f, v, what);
    if (f->type == NN_F_FLOAT) *(float *)dst = (float)x;
    else *(double *)dst = x;
    return NN_OK;
}

/* Store value v (NULL: none given, for flags without one) of flag f. */
static int set_value(nn_args *a, const nn_flag *f, const char *v) {
    void *dst = (char *)a + f->off;
    a->raw[f - nn_flags] = v ? v : "";
    if (v && f->choices && !choice_of(f->choices, v)) {
        char list[200], what[240];
        choices_text(f->choices, list, sizeof list);
        snprintf(what, sizeof what, "%s", list);
        return bad_value(f, v, what);
    }
    switch (f->type) {
    case NN_F_INT:
    case NN_F_LONG:
    case NN_F_SEED:
    case NN_F_FLOAT:
    case NN_F_DOUBLE: return set_number(a, f, v);
    case NN_F_STR:
    case NN_F_NAME: *(const char **)dst = v; return NN_OK;
    case NN_F_SET: *(bool *)dst = true; return NN_OK;
    case NN_F_CLEAR: *(bool *)dst = false; return NN_OK;
    case NN_F_CHOICE: *(int *)dst = choice_of(f->choices, v)->value; return NN_OK;
    case NN_F_CUSTOM: return f->parse(a, v);
    }
    return nn_fail("--%s: unknown flag type", f->name);
}

static bool takes_value(const nn_flag *f) { return f->type != NN_F_SET && f->type != NN_F_CLEAR; }

/* ---- the command line --------------------------------------------------- */

static int unknown_flag(const char *tok) {
    const char *names[128];
    int n = 0;
    for (int i = 0; i < nn_nflags && n < 128; i++) names[n++] = nn_flags[i].name;
    const char *close = nn_closest(tok + strspn(tok, "-"), names, n);
    char q[120];
    nn_escaped(tok, 80, q, sizeof q);
    if (close) return nn_fail("unknown option '%s' (did you mean --%s?)", q, close);
    return nn_fail("unknown option '%s' (see nntrain help)", q);
}

static int unknown_command(const char *name) {
    const char *names[NN_CMD_COUNT];
    for (int i = 0; i < NN_CMD_COUNT; i++) names[i] = nn_commands[i].name;
    const char *close = nn_closest(name, names, NN_CMD_COUNT);
    char q[120], list[300] = "";
    nn_escaped(name, 80, q, sizeof q);
    for (int i = 0; i < NN_CMD_COUNT; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 nn_commands[i].name);
    if (close) return nn_fail("unknown command '%s' (did you mean %s?)", q, close);
    return nn_fail("unknown command '%s'; the commands: %s (nntrain help)", q, list);
}

/* Everything that is not a flag default: "unset" markers the resolution
 * below replaces. */
static void preset(nn_args *a) {
    memset(a, 0, sizeof *a);
    a->train.bn_sync = true;
    a->train.balance = true;
    a->train.plot = true;
    a->n = -1;
    a->index = -1;
    a->lr = a->momentum = a->rho = a->eps = a->beta1 = a->beta2 = -1;
}

/* Each flag's default for this command, as if given (so help shows exactly
 * what is used). */
static int apply_defaults(nn_args *a) {
    for (int i = 0; i < nn_nflags; i++) {
        const nn_flag *f = &nn_flags[i];
        if (f->def && (f->cmds & NN_CMD_BIT(a->cmd)) && set_value(a, f, f->def) != NN_OK)
            return nn_fail_ctx("default of --%s", f->name);
    }
    return NN_OK;
}

/* One flag token (argv[*i]), its value from "=value" or the next word. */
static int parse_flag(nn_args *a, int argc, char **argv, int *i) {
    const char *tok = argv[*i], *eq = NULL;
    char name[64];
    const nn_flag *f;
    if (tok[1] == '-') {
        eq = strchr(tok, '=');
        size_t len = eq ? (size_t)(eq - tok - 2) : strlen(tok + 2);
        if (len >= sizeof name) return unknown_flag(tok);
        memcpy(name, tok + 2, len);
        name[len] = 0;
        f = flag_for(name, a->cmd);
    } else {
        if (tok[2]) return unknown_flag(tok); /* -abc: no bundling */
        f = flag_short(tok[1], a->cmd);
    }
    if (!f) return unknown_flag(tok);
    if (!(f->cmds & NN_CMD_BIT(a->cmd))) {
        char cmds[300];
        commands_of(f->name, cmds, sizeof cmds);
        return nn_fail("--%s does not apply to %s (it is for: %s)", f->name, a->cmd_name, cmds);
    }
    a->given[f - nn_flags] = true; /* given again: the last value wins (--checkpoint adds) */
    const char *v = NULL;
    if (eq) {
        if (!takes_value(f)) return nn_fail("--%s takes no value (given '%s')", f->name, eq + 1);
        v = eq + 1;
    } else if (takes_value(f)) {
        const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
        if (f->opts & NN_FLAG_OPTVAL) {
            if (next && choice_of(f->choices, next)) v = next, ++*i;
        } else if (!next) {
            if (f->metavar) return nn_fail("--%s needs a value (%s)", f->name, f->metavar);
            return nn_fail("--%s needs a value: %s in [%g, %g]", f->name,
                           f->type <= NN_F_SEED ? "an integer" : "a number", f->min, f->max);
        } else {
            v = next, ++*i;
        }
    }
    return set_value(a, f, v);
}

static int add_positional(nn_args *a, const char *s, const nn_flag *after) {
    const nn_command *c = &nn_commands[a->cmd];
    if (a->npos >= c->max_pos) {
        char q[120];
        nn_escaped(s, 80, q, sizeof q);
        if (after && (after->opts & NN_FLAG_OPTVAL)) { /* "--flip sideways" */
            char list[200];
            choices_text(after->choices, list, sizeof list);
            return nn_fail("--%s %s: expected %s, or --%s alone", after->name, q, list,
                           after->name);
        }
        if (c->max_pos == 0)
            return nn_fail("%s takes no arguments, only flags (given '%s'; nntrain help %s)",
                           c->name, q, c->name);
        return nn_fail("%s takes at most %d argument%s (%s); '%s' is one more", c->name,
                       c->max_pos, c->max_pos == 1 ? "" : "s", c->operands, q);
    }
    a->pos[a->npos++] = s;
    return NN_OK;
}

/* The values that depend on others: the optimizer's defaults, gan's. */
static int resolve(nn_args *a) {
    nn_train_cfg *t = &a->train;
    if (a->nensemble > 1 && a->cmd != NN_CMD_EVAL)
        return nn_fail("--checkpoint given %d times: only eval takes more than one (it averages "
                       "their class probabilities)",
                       a->nensemble);
    const bool gan = a->cmd == NN_CMD_GAN;
    if (a->cmd != NN_CMD_TRAIN && !gan) return NN_OK;
    nn_optim_cfg *o = &t->optim;
    if (!a->optim_name) a->optim_name = gan ? "adam" : "sgd";
    NN_TRY(nn_optim_defaults(a->optim_name, o));
    if (gan && !strcmp(a->optim_name, "adam")) { /* the DCGAN paper's */
        if (a->lr < 0) a->lr = 2e-4f;
        if (a->beta1 < 0) a->beta1 = 0.5f;
    }
    if (t->batch_per_rank > 0 && nn_args_given(a, "batch"))
        return nn_fail("--batch (global) and --batch-per-rank (global = it x ranks): give one");
    if (t->lr_scale != NN_LR_SCALE_NONE && t->batch_per_rank == 0)
        return nn_fail("--lr-scale scales the rate given for one rank's batch: it needs "
                       "--batch-per-rank B (the global batch is then B x ranks)");
    if (gan && !nn_args_given(a, "batch")) t->batch = 128;
    /* A resume refuses a model other than the checkpoint's only when one was given. */
    t->model_given = nn_args_given(a, "model");
    t->hidden_given = nn_args_given(a, "hidden");
    t->z_dim_given = nn_args_given(a, "z-dim");
    t->generator = gan ? a->gan_net : NULL;
    /* A hyper-parameter the optimizer has not is an error, never silently unused. */
    static const struct {
        const char *flag;
        unsigned kinds; /* 1 << nn_optim_kind */
        const char *which;
    } hyper[] = {
        {"momentum", 1u << NN_OPT_MOMENTUM, "momentum"},
        {"rho", 1u << NN_OPT_RMSPROP | 1u << NN_OPT_ADADELTA, "rmsprop, adadelta"},
        {"eps", 1u << NN_OPT_RMSPROP | 1u << NN_OPT_ADADELTA | 1u << NN_OPT_ADAM,
         "rmsprop, adadelta, adam (adagrad's h0 is fixed at 1e-8)"},
        {"beta1", 1u << NN_OPT_ADAM, "adam"},
        {"beta2", 1u << NN_OPT_ADAM, "adam"},
    };
    for (size_t i = 0; i < sizeof hyper / sizeof *hyper; i++)
        if (nn_args_given(a, hyper[i].flag) && !(hyper[i].kinds & (1u << o->kind)))
            return nn_fail("--%s is not a parameter of --optim %s (it is for: %s)", hyper[i].flag,
                           a->optim_name, hyper[i].which);
    if (a->lr >= 0) o->lr = a->lr;
    if (a->momentum >= 0) o->momentum = a->momentum;
    if (a->rho >= 0) o->rho = a->rho;
    if (a->eps >= 0) o->eps = a->eps;
    if (a->beta1 >= 0) o->beta1 = a->beta1;
    if (a->beta2 >= 0) o->beta2 = a->beta2;
    o->weight_decay = a->weight_decay;
    if (a->nesterov && o->kind != NN_OPT_MOMENTUM)
        return nn_fail("--nesterov is a form of momentum: it needs --optim momentum (not %s)",
                       a->optim_name);
    o->nesterov = a->nesterov;
    if (nn_sched_parse(a->schedule, &t->sched) != NN_OK) return nn_fail_ctx("--schedule");
    t->sched.base_lr = o->lr;
    t->sched.warmup_epochs = a->warmup;
    if (t->resume && t->force)
        return nn_fail("--resume continues a run and --force replaces one: give one");
    return NN_OK;
}

int nn_args_parse(nn_args *a, int argc, char **argv) {
    preset(a);
    if (nn_nflags > (int)(sizeof a->given / sizeof *a->given))
        return nn_fail("nntrain: %d flags, more than nn_args.given holds", nn_nflags);
    const char *first = argc > 1 ? argv[1] : NULL;
    /* nntrain, nntrain --help, nntrain --version: the help command. */
    if (!first || !strcmp(first, "--help") || !strcmp(first, "-h") ||
        !strcmp(first, "--version") || !strcmp(first, "-V")) {
        a->cmd = NN_CMD_HELP, a->cmd_name = "help";
        a->version = first && (!strcmp(first, "--version") || !strcmp(first, "-V"));
        NN_TRY(apply_defaults(a));
        return NN_OK;
    }
    if (first[0] == '-')
        return nn_fail("'%s' before a command: the command comes first (nntrain COMMAND "
                       "[flags]; nntrain help)",
                       first);
    const nn_command *c = nn_command_find(first);
    if (!c) return unknown_command(first);
    a->cmd = (nn_cmd_id)(c - nn_commands), a->cmd_name = c->name;
    NN_TRY(apply_defaults(a));
    bool flags_done = false;
    const nn_flag *last = NULL; /* the flag just before, when it took no value */
    for (int i = 2; i < argc; i++) {
        const char *tok = argv[i];
        if (!flags_done && !strcmp(tok, "--")) {
            flags_done = true;
        } else if (!flags_done && tok[0] == '-' && tok[1]) {
            const int at = i;
            NN_TRY(parse_flag(a, argc, argv, &i));
            last = i == at && !strchr(tok, '=') ? flag_for(tok + strspn(tok, "-"), a->cmd) : NULL;
            continue;
        } else {
            NN_TRY(add_positional(a, tok, last));
        }
        last = NULL;
    }
    if (a->help || a->version) return NN_OK;
    if (a->npos < c->min_pos)
        return nn_fail("%s needs %s (nntrain %s %s)", c->name, c->operands, c->name, c->operands);
    return resolve(a);
}
