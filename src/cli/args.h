/* args.h: what the command line resolves to (nn_args), and the two tables it
 * is read with: the commands (commands.c) and the flags (flags.c). The
 * parser (args.c), every help page and docs/cli.md (help.c) read only these
 * tables: a new flag is one line in flags.c and a field here. */
#ifndef NN_CLI_ARGS_H
#define NN_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nn/dist.h"
#include "nn/error.h"
#include "nn/progress.h"
#include "nn/train.h"

/* eval averages at most this many checkpoints (--checkpoint given again). */
#define NN_MAX_ENSEMBLE 16
/* Positional arguments a command may take (plot's runs, predict's images). */
#define NN_MAX_POS 256

/* Exit codes (docs/cli.md "Exit status"). */
enum { NN_EXIT_OK = 0, NN_EXIT_FAIL = 1, NN_EXIT_USAGE = 2 }; /* NN_EXIT_STOPPED (75): guard.h */

/* The commands, in the order `nntrain help` lists them. */
typedef enum {
    NN_CMD_TRAIN,
    NN_CMD_GAN,
    NN_CMD_EVAL,
    NN_CMD_PREDICT,
    NN_CMD_LOSS,
    NN_CMD_SUMMARY,
    NN_CMD_EXPORT,
    NN_CMD_SAMPLE,
    NN_CMD_GAN_SCORE,
    NN_CMD_CHECK_DATA,
    NN_CMD_COMPARE,
    NN_CMD_PLOT,
    NN_CMD_SEAL,
    NN_CMD_HELP,
    NN_CMD_COUNT
} nn_cmd_id;

#define NN_CMD_BIT(id) (1u << (id))
#define NN_CMDS_ALL ((1u << NN_CMD_COUNT) - 1)

typedef struct nn_args nn_args;

typedef enum {
    NN_RANKS_ALL,  /* every rank runs it (it holds collectives) */
    NN_RANKS_ROOT, /* rank 0 does the work, the others wait */
} nn_ranks;

typedef struct {
    const char *name;
    int (*run)(const nn_args *a, nn_dist *d);
    nn_ranks ranks;
    const char *operands;  /* the positional arguments, e.g. "A.h5 B.h5" ("" = none) */
    int min_pos, max_pos;  /* how many it takes */
    const char *summary;   /* one line for `nntrain help` */
    const char *detail;    /* more for `nntrain help CMD` (may be NULL) */
} nn_command;

extern const nn_command nn_commands[NN_CMD_COUNT];

/* What a flag's value is and where it goes (an offset into nn_args). */
typedef enum {
    NN_F_INT,    /* int in [min, max] */
    NN_F_LONG,   /* long in [min, max] */
    NN_F_SEED,   /* uint64_t in [min, max] */
    NN_F_FLOAT,  /* float in [min, max] */
    NN_F_DOUBLE, /* double in [min, max] */
    NN_F_STR,    /* const char * (the argv string) */
    NN_F_SET,    /* bool: true (no value) */
    NN_F_CLEAR,  /* bool: false (no value) */
    NN_F_CHOICE, /* int: the value of one of `choices` */
    NN_F_NAME,   /* const char *: one of `choices`' names */
    NN_F_CUSTOM, /* parse(a, value) */
} nn_flag_type;

typedef struct {
    const char *name;
    int value;
} nn_choice;

enum {
    NN_FLAG_REPEAT = 1,   /* each one given is kept (--checkpoint); others: the last wins */
    NN_FLAG_OPTVAL = 2,   /* the value may be left out (--flip [alternate]) */
    NN_FLAG_LOCAL = 4,    /* may differ between ranks (not in the start-up agreement) */
};

typedef struct {
    const char *name;   /* without the leading "--" */
    char shortname;     /* -x, or 0 */
    nn_flag_type type;
    const char *metavar; /* the value's name in help ("N", "FILE") */
    double min, max;    /* numeric types */
    const nn_choice *choices; /* NN_F_CHOICE; also the values CUSTOM lists in errors */
    const char *def;    /* the default, parsed as if given (NULL: none/unset) */
    unsigned cmds;      /* NN_CMD_BIT()s of the commands it applies to */
    size_t off;         /* offsetof(nn_args, field) */
    int (*parse)(nn_args *a, const char *v); /* NN_F_CUSTOM */
    unsigned opts;      /* NN_FLAG_* */
    const char *help;
} nn_flag;

extern const nn_flag nn_flags[];
extern const int nn_nflags;

struct nn_args {
    nn_cmd_id cmd;
    const char *cmd_name;
    nn_train_cfg train;
    const char *optim_name;
    float lr;           /* <0: optimizer default */
    const char *schedule;
    float warmup, weight_decay;
    float momentum, rho, eps, beta1, beta2; /* <0: default */
    bool nesterov;
    const char *checkpoint;        /* the first --checkpoint */
    const char *ensemble[NN_MAX_ENSEMBLE]; /* eval: every --checkpoint given, in order */
    int nensemble;
    int threads;        /* OpenBLAS threads per rank, 0 = cores / ranks on the node */
    bool oversubscribe; /* --threads may exceed the node's cores */
    int index;          /* predict: -1 = read from stdin (or the images given) */
    int top;            /* predict: classes shown per image */
    const char *confusion_csv, *confusion_png;
    bool help, version;
    nn_tta tta;         /* eval --tta */
    const char *compare_col, *png; /* plot --compare COLUMN --png FILE */
    const char *classifier;        /* gan-score: the classifier's checkpoint */
    int n;                         /* sample / gan-score: images (-1 = default) */
    bool no_ema;                   /* sample / gan-score: G itself, not its moving average */
    float truncation;              /* sample / gan-score: noise truncated to [-t, t] (0: none) */
    const char *device;            /* --device cpu|cuda|auto (NULL: auto) */
    const char *input_shape;       /* summary: CxHxW */
    const char *onnx;              /* export: the file to write */
    bool export_generator;         /* export --generator: a GAN checkpoint's generator */
    bool markdown;                 /* help --markdown: docs/cli.md */
    bool matrix;                   /* help --matrix: the accept/refuse table (tests) */
    const char *gan_net;           /* --generator/--discriminator text for gan, summary */
    /* Positional arguments (compare A B, plot RUN..., predict IMAGE..., help CMD). */
    const char *pos[NN_MAX_POS];
    int npos;
    /* Which flags were given (nn_flags order): a default is never "given". */
    bool given[128];
    /* The text each row's value came from (the last given, else the default;
     * NULL: neither; "" for a switch given): what the ranks compare. */
    const char *raw[128];
};

/* Parse argv (argv[1] the command) into a: tables, values, ranges, the
 * flags each command takes. NN_OK, or NN_ERR with the message set (a usage
 * error: exit NN_EXIT_USAGE). */
int nn_args_parse(nn_args *a, int argc, char **argv);
/* The flag of this name (without "--"), or NULL. */
const nn_flag *nn_flag_find(const char *name);
/* Whether flag `name` was given on the command line. */
bool nn_args_given(const nn_args *a, const char *name);
/* The command of this name, or NULL. */
const nn_command *nn_command_find(const char *name);
/* The closest of `n` names to `s` (edit distance, at most a third of its
 * length), or NULL: the "did you mean" of unknown flags and commands. */
const char *nn_closest(const char *s, const char *const *names, int n);

/* agree.c: every rank was started with the same command and flags (all
 * but the NN_FLAG_LOCAL ones), or a usage error naming the first that
 * differs and its values on the ranks. Collective; the first one. */
int nn_args_agree(const nn_args *a, nn_dist *d);

/* help.c */
int nn_help_run(const nn_args *a, nn_dist *d); /* the help command */
void nn_help_usage(FILE *f);                    /* the short page: no command given */
void nn_help_command(FILE *f, nn_cmd_id c);     /* nntrain help CMD / CMD --help */
void nn_help_version(FILE *f);                  /* --version */

#endif
