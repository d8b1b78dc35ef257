/* help.c: every help page, --version and docs/cli.md, from the command and
 * flag tables alone (`nntrain help --markdown > docs/cli.md`; CI fails when
 * the checked-in file differs). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "nn/backend.h"
#include "nn/error.h"
#include "nn/net.h"
#include "nn/presets.h"
#include "nn/train.h"

#ifndef NN_VERSION
#define NN_VERSION "unknown"
#endif

static const char *const exit_codes[][2] = {
    {"0", "done"},
    {"1", "failure: bad input, a file that cannot be read or written, a diverged run, a failed "
          "rank (the message says which)"},
    {"2", "usage error: an unknown command or flag, a value out of range, a flag the command "
          "does not take, ranks started with different flags"},
    {"75", "train/gan stopped by SIGTERM, SIGINT or SIGUSR1 after writing its checkpoint: run "
           "the same command with --resume auto to continue (EX_TEMPFAIL, what Slurm requeue "
           "wrappers key on)"},
};

static const char *const environment[][2] = {
    {"NNTRAIN_DATA=DIR", "where the data sets live (default datasets/data)"},
    {"NNTRAIN_SHM=0", "MPI_Allreduce instead of node-shared memory for the gradient sum"},
    {"NNTRAIN_PROGRESS_SECONDS=S", "--progress lines: seconds between lines (10)"},
    {"OPENBLAS_CORETYPE=NAME", "respected; unset, nntrain picks the fastest kernel this CPU has "
                               "when OpenBLAS does not recognise it"},
    {"OPENBLAS_NUM_THREADS=T", "respected when --threads is not given"},
};

/* ---- text pages --------------------------------------------------------- */

/* s wrapped to `width` columns, each line after the first indented by
 * `indent` (the first continues where the caller is, at column `col`). */
static void wrap(FILE *f, const char *s, int col, int indent, int width) {
    while (*s) {
        int room = width - col, len = (int)strlen(s);
        if (len <= room) {
            fputs(s, f);
            break;
        }
        int cut = room;
        while (cut > 0 && s[cut] != ' ') cut--;
        if (cut == 0) cut = (int)strcspn(s, " ");
        fprintf(f, "%.*s\n%*s", cut, s, indent, "");
        s += cut + (s[cut] == ' ');
        col = indent;
    }
    fputc('\n', f);
}

/* "-e, --epochs N" */
static void flag_synopsis(const nn_flag *fl, char *buf, size_t n) {
    char sh[8] = "    ";
    if (fl->shortname) snprintf(sh, sizeof sh, "-%c, ", fl->shortname);
    snprintf(buf, n, "%s--%s%s%s", sh, fl->name, fl->metavar ? " " : "",
             fl->metavar ? fl->metavar : "");
}

/* "(default 10; 1..1000000)" or "" */
static void flag_facts(const nn_flag *fl, char *buf, size_t n) {
    char range[96] = "", choices[200] = "";
    if (fl->type >= NN_F_INT && fl->type <= NN_F_DOUBLE)
        snprintf(range, sizeof range, "%g..%g", fl->min, fl->max);
    if (fl->choices) {
        for (const nn_choice *c = fl->choices; c->name; c++)
            snprintf(choices + strlen(choices), sizeof choices - strlen(choices), "%s%s",
                     c == fl->choices ? "" : "|", c->name);
    }
    const char *what = choices[0] ? choices : range;
    if (fl->def && what[0]) snprintf(buf, n, " (default %s; %s)", fl->def, what);
    else if (fl->def) snprintf(buf, n, " (default %s)", fl->def);
    else if (what[0]) snprintf(buf, n, " (%s)", what);
    else buf[0] = 0;
}

void nn_help_usage(FILE *f) {
    fputs("nntrain: data-parallel neural-network training (MLPs, CNNs, DCGAN) in C\n\n"
          "usage: nntrain COMMAND [flags] [arguments]    (under MPI: mpirun -np N nntrain ...)\n\n"
          "commands:\n",
          f);
    for (int i = 0; i < NN_CMD_COUNT; i++)
        wrap(f, nn_commands[i].summary, fprintf(f, "  %-11s ", nn_commands[i].name), 14, 79);
    fputs("\nnntrain help COMMAND (or nntrain COMMAND --help): its flags and defaults\n"
          "nntrain help models: every preset model; nntrain --version: what this build has\n"
          "flags: --name VALUE, --name=VALUE or -x VALUE; the full reference: docs/cli.md\n",
          f);
}

void nn_help_command(FILE *f, nn_cmd_id id) {
    const nn_command *c = &nn_commands[id];
    fprintf(f, "usage: nntrain %s [flags]%s%s\n\n", c->name, c->operands[0] ? " " : "",
            c->operands);
    wrap(f, c->summary, 0, 0, 79);
    if (c->detail) {
        fputc('\n', f);
        wrap(f, c->detail, 0, 0, 79);
    }
    fprintf(f, "\nflags:\n");
    for (int i = 0; i < nn_nflags; i++) {
        const nn_flag *fl = &nn_flags[i];
        if (!(fl->cmds & NN_CMD_BIT(id))) continue;
        char syn[64], facts[300], text[1200];
        flag_synopsis(fl, syn, sizeof syn);
        flag_facts(fl, facts, sizeof facts);
        snprintf(text, sizeof text, "%s%s", fl->help, facts);
        int col = fprintf(f, "  %-24s ", syn);
        if (col > 27) {
            fprintf(f, "\n%27s", "");
            col = 27;
        }
        wrap(f, text, col, 27, 79);
    }
}

void nn_help_version(FILE *f) {
    char mpi[256];
    nn_dist_library(mpi, sizeof mpi);
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    const char *core = nn_blas_corename();
    const char *env = getenv("OPENBLAS_CORETYPE");
    fprintf(f, "nntrain %s\n", NN_VERSION);
    fprintf(f, "  distributed: %s (%s)\n", nn_dist_kind(), mpi);
#ifdef NN_CUDA
    fprintf(f, "  cuda: built in (make CUDA=1; --device cuda|auto)\n");
#else
    fprintf(f, "  cuda: not built (make CUDA=1 adds it)\n");
#endif
    fprintf(f, "  openblas: kernel %s%s%s%s\n", core ? core : "?", env ? " (OPENBLAS_CORETYPE=" : "",
            env ? env : "", env ? ")" : "");
    fprintf(f, "  hdf5: %u.%u.%u\n", maj, min, rel);
}

/* One row per preset: natural shape, parameters, FLOPs (built, shapes only). */
static int help_models(FILE *f) {
    fprintf(f, "%-12s %-9s %-9s %7s %10s %10s  %s\n", "preset", "data", "input", "classes",
            "params", "FLOPs", "what it is for");
    for (int i = 0; i < nn_preset_count(); i++) {
        const nn_preset *p = nn_preset_at(i);
        char *spec = nn_model_preset(p->name, 0, p->classes);
        nn_net net;
        int rc = spec ? nn_net_create(&net, spec, p->name, p->shape, p->classes, 0,
                                      nn_backend_current())
                      : NN_ERR;
        free(spec);
        NN_TRY(rc);
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%dx%d", p->shape.c, p->shape.h, p->shape.w);
        fprintf(f, "%-12s %-9s %-9s %7d %10zu %9.1fM  %s\n", p->name, p->data, shape, p->classes,
                net.nparams, nn_net_flops(&net) / 1e6, p->about);
        nn_net_free(&net);
    }
    const char *gans[] = {"dcgan-mnist", "dcgan-cifar"};
    for (int i = 0; i < 2; i++) {
        const char *g, *d;
        nn_shape img;
        NN_TRY(nn_gan_preset(gans[i], &g, &d, &img));
        fprintf(f, "%-12s %-9s %dx%dx%d  gan --generator/--discriminator %s (the DCGAN for %s "
                   "images; nntrain summary --generator %s)\n",
                gans[i], i ? "cifar10" : "mnist", img.c, img.h, img.w, gans[i],
                i ? "32x32 colour" : "28x28 grey", gans[i]);
    }
    fputs("\n--model also takes a spec file or an inline spec: docs/formats.md, \"Model specs\"\n",
          f);
    return NN_OK;
}

/* ---- docs/cli.md -------------------------------------------------------- */

static void md_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else fputc(*s, f);
    }
}

static void md_flag_row(FILE *f, const nn_flag *fl, bool with_cmds) {
    char syn[64], facts[300];
    flag_synopsis(fl, syn, sizeof syn);
    flag_facts(fl, facts, sizeof facts);
    fprintf(f, "| `");
    md_text(f, syn + strspn(syn, " "));
    fprintf(f, "` | ");
    md_text(f, fl->help);
    md_text(f, facts);
    if (with_cmds) {
        fprintf(f, " | ");
        for (int c = 0, first = 1; c < NN_CMD_COUNT; c++)
            if (fl->cmds & NN_CMD_BIT(c)) {
                fprintf(f, "%s%s", first ? "" : ", ", nn_commands[c].name);
                first = 0;
            }
    }
    fprintf(f, " |\n");
}

static void help_markdown(FILE *f) {
    fputs("# The nntrain command line\n\n"
          "<!-- Generated by `nntrain help --markdown` from the tables in src/cli/flags.c and\n"
          "src/cli/commands.c (`make docs`); CI fails when this file differs. Do not edit. -->\n\n"
          "`nntrain COMMAND [flags] [arguments]`, or `mpirun -np N nntrain COMMAND ...`. A flag\n"
          "is `--name VALUE`, `--name=VALUE` or, where it has one, `-x VALUE`; names are exact\n"
          "(no abbreviations); a flag given again replaces its value (only `--checkpoint` adds\n"
          "one more), and a flag that the command does not take is an error naming the\n"
          "commands that do. `--` ends the flags. `nntrain help COMMAND` prints the section of that command below.\n\n"
          "## Commands\n\n| command | arguments | ranks | what it does |\n|---|---|---|---|\n",
          f);
    for (int i = 0; i < NN_CMD_COUNT; i++) {
        const nn_command *c = &nn_commands[i];
        fprintf(f, "| [`%s`](#%s) | %s | %s | ", c->name, c->name,
                c->operands[0] ? c->operands : "", c->ranks == NN_RANKS_ALL ? "all" : "rank 0");
        md_text(f, c->summary);
        fprintf(f, " |\n");
    }
    fputs("\n\"all\": every rank takes part (a data-parallel job under mpirun); \"rank 0\": rank 0 "
          "does the work and the others wait.\n\n## Exit status\n\n| code | meaning |\n|---|---|\n",
          f);
    for (size_t i = 0; i < sizeof exit_codes / sizeof *exit_codes; i++)
        fprintf(f, "| %s | %s |\n", exit_codes[i][0], exit_codes[i][1]);
    fputs("\n## Environment\n\n| variable | effect |\n|---|---|\n", f);
    for (size_t i = 0; i < sizeof environment / sizeof *environment; i++)
        fprintf(f, "| `%s` | %s |\n", environment[i][0], environment[i][1]);
    for (int i = 0; i < NN_CMD_COUNT; i++) {
        const nn_command *c = &nn_commands[i];
        fprintf(f, "\n## %s\n\n`nntrain %s [flags]%s%s`\n\n", c->name, c->name,
                c->operands[0] ? " " : "", c->operands);
        fprintf(f, "%s\n\n", c->summary);
        if (c->detail) fprintf(f, "%s\n\n", c->detail);
        fputs("| flag | meaning |\n|---|---|\n", f);
        for (int j = 0; j < nn_nflags; j++)
            if (nn_flags[j].cmds & NN_CMD_BIT(i)) md_flag_row(f, &nn_flags[j], false);
    }
    fputs("\n## Every flag\n\n| flag | meaning | commands |\n|---|---|---|\n", f);
    for (int j = 0; j < nn_nflags; j++) md_flag_row(f, &nn_flags[j], true);
}

/* The accept/refuse matrix: for every command and flag, a command line
 * that gives the flag (with a value it accepts) and whether the table says
 * the command takes it. tests/cli/flags.sh runs each line. */
static void help_matrix(FILE *f) {
    for (int c = 0; c < NN_CMD_COUNT; c++)
        for (int j = 0; j < nn_nflags; j++) {
            const nn_flag *fl = &nn_flags[j];
            /* A name with a row per command set: the row that applies, else the first. */
            bool later = false;
            for (int k = 0; k < j; k++)
                if (!strcmp(nn_flags[k].name, fl->name)) later = true;
            const nn_flag *row = fl;
            for (int k = 0; k < nn_nflags; k++)
                if (!strcmp(nn_flags[k].name, fl->name) && (nn_flags[k].cmds & NN_CMD_BIT(c)))
                    row = &nn_flags[k];
            if (later) continue;
            const char *v = row->def;
            char buf[32];
            if (row->type == NN_F_SET || row->type == NN_F_CLEAR || (row->opts & NN_FLAG_OPTVAL))
                v = NULL;
            else if (!v && row->choices)
                v = row->choices[0].name;
            else if (!v && row->type >= NN_F_INT && row->type <= NN_F_DOUBLE)
                snprintf(buf, sizeof buf, "%g", row->min > 0 ? row->min : row->max < 1 ? row->max / 2 : 1),
                    v = buf;
            else if (!v && !strcmp(row->name, "lookahead"))
                v = "5:3";
            else if (!v && !strcmp(row->name, "ema"))
                v = "0.9";
            else if (!v && !strcmp(row->name, "truncation"))
                v = "1";
            else if (!v && !strcmp(row->name, "input-shape"))
                v = "1x28x28";
            else if (!v)
                v = "x";
            /* The optimizer whose parameter it is (args.c refuses it for others). */
            static const char *const needs[][2] = {
                {"momentum", "momentum"}, {"nesterov", "momentum"}, {"rho", "rmsprop"},
                {"eps", "adam"},          {"beta1", "adam"},        {"beta2", "adam"}};
            const char *ctx = "";
            for (size_t k = 0; k < sizeof needs / sizeof *needs; k++)
                if (!strcmp(row->name, needs[k][0]) && (row->cmds & NN_CMD_BIT(c)))
                    ctx = needs[k][1];
            fprintf(f, "%s\t--%s\t%s\t%s\t%s%s\n", nn_commands[c].name, row->name, v ? v : "",
                    (row->cmds & NN_CMD_BIT(c)) ? "accept" : "refuse", ctx[0] ? "--optim " : "",
                    ctx);
        }
}

int nn_help_run(const nn_args *a, nn_dist *d) {
    (void)d;
    if (a->version) {
        nn_help_version(stdout);
        return NN_OK;
    }
    if (a->markdown) {
        help_markdown(stdout);
        return NN_OK;
    }
    if (a->matrix) {
        help_matrix(stdout);
        return NN_OK;
    }
    if (a->npos == 0) {
        nn_help_usage(stdout);
        return NN_OK;
    }
    if (!strcmp(a->pos[0], "models")) return help_models(stdout);
    const nn_command *c = nn_command_find(a->pos[0]);
    if (!c) {
        const char *names[NN_CMD_COUNT + 1];
        for (int i = 0; i < NN_CMD_COUNT; i++) names[i] = nn_commands[i].name;
        names[NN_CMD_COUNT] = "models";
        const char *close = nn_closest(a->pos[0], names, NN_CMD_COUNT + 1);
        return nn_fail("help %s: no such command or topic%s%s%s (nntrain help lists them)",
                       a->pos[0], close ? " (did you mean " : "", close ? close : "",
                       close ? "?)" : "");
    }
    nn_help_command(stdout, (nn_cmd_id)(c - nn_commands));
    return NN_OK;
}
