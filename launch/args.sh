# launch/args.sh (sourced): how the launchers (launch/nntrain-mpi and the
# sbatch scripts in launch/slurm/) turn their arguments into one nntrain
# command line. Arguments are kept as an array from start to end: an inline
# model spec ("dense 100; relu; dense 10") or a path with a space is one
# argument, never split.
#
# The rule for the command: a first argument that is a word (train, gan, eval,
# predict, check-data, sample, export, help, ...) is the nntrain command and
# is run as given; a first argument that starts with '-', or none at all,
# means `train` (so `-- --data mnist ...` is `nntrain train --data mnist ...`,
# as the launchers always did).

# nn_split_command ARGS...: sets nn_cmd (the nntrain command) and the array
# nn_args (its arguments).
nn_split_command() {
    nn_cmd=train
    nn_args=("$@")
    if (($#)) && [[ $1 != -* ]]; then
        nn_cmd=$1
        nn_args=("${@:2}")
    fi
}

# nn_args_from_string TEXT: the array nn_words from an NNTRAIN_ARGS-style
# string. With a newline in it: one argument per line (blank lines skipped),
# each line kept whole, spaces included. Without: split on blanks (the old
# form; no quoting, so no argument can hold a space).
nn_args_from_string() {
    nn_words=()
    local line
    if [[ $1 == *$'\n'* ]]; then
        while IFS= read -r line; do
            [[ -n $line ]] && nn_words+=("$line")
        done <<<"$1"
    else
        read -r -a nn_words <<<"$1"
    fi
    return 0
}

# nn_normalize_option NAME: in nn_args, `--NAME=VALUE` becomes `--NAME VALUE`
# (the two-argument form every nntrain build accepts), and sets nn_has_NAME=1
# (dashes as underscores) when the option is present in either form. Only
# option positions are looked at: the value after an option that takes one is
# skipped only for NAME itself, which is enough for the options the
# launchers inspect (--resume, --device, --threads).
nn_normalize_option() {
    local name=$1 out=() i a var
    var="nn_has_${name//-/_}"
    printf -v "$var" 0
    for ((i = 0; i < ${#nn_args[@]}; i++)); do
        a=${nn_args[i]}
        if [[ $a == "--$name="* ]]; then
            out+=("--$name" "${a#--"$name"=}")
            printf -v "$var" 1
        elif [[ $a == "--$name" ]]; then
            out+=("$a")
            ((i + 1 < ${#nn_args[@]})) && out+=("${nn_args[i + 1]}")
            i=$((i + 1))
            printf -v "$var" 1
        else
            out+=("$a")
        fi
    done
    nn_args=("${out[@]}")
}

# nn_option_value NAME: prints the value of `--NAME VALUE` in nn_args (the
# last one), after nn_normalize_option NAME.
nn_option_value() {
    local i v=
    for ((i = 0; i + 1 < ${#nn_args[@]}; i++)); do
        [[ ${nn_args[i]} == "--$1" ]] && v=${nn_args[i + 1]}
    done
    printf '%s' "$v"
}

# nn_resume_auto: for the commands that train (train, gan), adds `--resume
# auto` unless nn_args already have a --resume (either form), so every run of
# a batch job continues from OUT/checkpoint.h5 when there is one.
nn_resume_auto() {
    case $nn_cmd in train|gan) ;; *) return 0 ;; esac
    nn_normalize_option resume
    ((nn_has_resume)) || nn_args+=(--resume auto)
}
