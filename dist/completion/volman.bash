# bash completion for volman(1)                          -*- shell-script -*-
#
# Commands, subcommands and flags come from volman's own --help (so they
# follow the binary: nothing here to keep in step), asked once per shell;
# volume, app, tenant, env, driver and token names come from volmand, through
# the same volman and socket the command line names, and the names of an
# env's or app's /con files and secrets from the --tenant, --env, --app and
# --area the command line gives. Installed as
# share/bash-completion/completions/volman; load it by hand with
#   source dist/completion/volman.bash

declare -gA _volman_subs_cache _volman_flags_cache 2>/dev/null || true
_volman_subs= _volman_flags=

# _volman_load VOLMAN WORD...: the subcommands and the flags the --help of
# `volman WORD...` lists, in _volman_subs and _volman_flags (variables, not
# output: the cache must outlive the call, and a TAB should fork nothing
# once a command's help has been read).
_volman_load()
{
    local bin=$1
    shift
    local key="$bin|$*"
    if [[ -z ${_volman_subs_cache[$key]+set} ]]; then
        local help
        help=$("$bin" "$@" --help 2>/dev/null)
        _volman_subs_cache[$key]=$(_volman_commands_in <<<"$help")
        _volman_flags_cache[$key]=$(_volman_flags_in <<<"$help")
    fi
    _volman_subs=${_volman_subs_cache[$key]}
    _volman_flags=${_volman_flags_cache[$key]}
}

# The line of flags (as _volman_flags_in writes them) that names flag $1, in
# _volman_line.
_volman_flag_line()
{
    local l
    _volman_line=
    while IFS= read -r l; do
        if [[ " $l " == *" $1 "* ]]; then
            _volman_line=$l
            return
        fi
    done <<<"$flags"
}

# The subcommands (and aliases) a help text lists under "Commands:".
_volman_commands_in()
{
    awk '/^Commands:/ { on = 1; next }
         on && /^[^ ]/ { on = 0 }
         on && NF { n = $1; if (n ~ /,$/) { sub(/,$/, "", n); print n; print $2 } else print n }'
}

# The flags a help text lists in its usage line and option lines, one per
# line as "[-s ]--long[ VALUE]": an option line starts with blanks and a
# dash, and its flags (with a value name after a single blank) come before
# the first two blanks in a row, where the description starts.
_volman_flags_in()
{
    awk '/^Usage:/ {
            line = $0; gsub(/[][()|]/, " ", line)
            n = split(line, w, " ")
            for (j = 1; j <= n; j++)
                if (w[j] ~ /^--[a-z]/ && w[j] != "--")
                    print w[j] ((j < n && w[j + 1] ~ /^[A-Z]/) ? " VALUE" : "")
         }
         /^ +-/ {
            line = $0; sub(/^ +/, "", line)
            i = index(line, "  ")
            head = i ? substr(line, 1, i - 1) : line
            n = split(head, w, " ")
            short = ""
            for (j = 1; j <= n; j++) {
                t = w[j]; sub(/,$/, "", t)
                if (t ~ /^--[a-z]/) {
                    v = (j < n && w[j + 1] !~ /^-/) ? " VALUE" : ""
                    print (short != "" ? short " " : "") t v
                    short = ""
                } else if (t ~ /^-[a-zA-Z]$/) {
                    short = t
                }
            }
         }'
}

# _volman_query VOLMAN SOCKETARGS... -- WHAT: names from volmand, one per line.
# files and secrets are those of the level in the caller's $level (the
# --tenant, --env, --app and --area flags of the command line).
_volman_query()
{
    local bin=$1 what=${!#}
    local -a sock=("${@:2:$#-2}")
    case $what in
    volumes) "$bin" "${sock[@]}" volume ls -q 2>/dev/null ;;
    drivers) "$bin" "${sock[@]}" --json driver ls 2>/dev/null | sed -n 's/^ *"name": "\([^"]*\)".*/\1/p' ;;
    apps | tenants | envs)
        local key=${what%s}
        "$bin" "${sock[@]}" --json app ls 2>/dev/null | sed -n "s/^ *\"$key\": \"\\([^\"]*\\)\".*/\\1/p" | sort -u ;;
    tokens) "$bin" "${sock[@]}" --json token ls 2>/dev/null | sed -n 's/^ *"id": "\([^"]*\)".*/\1/p' ;;
    files | secrets)
        "$bin" "${sock[@]}" --json app "${what%s}" ls "${level[@]}" 2>/dev/null |
            sed -n 's/^ *"name": "\([^"]*\)".*/\1/p' | sort -u ;;
    esac
}

_volman()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local bin=${COMP_WORDS[0]}
    [[ $bin == */* ]] || type -P "$bin" >/dev/null 2>&1 || bin=volman
    local -a path=() sock=() level=()
    local subs flags i w positional=0 expect_value="" _volman_line

    # Walk the words before the cursor: global flags, the command path, then
    # the leaf's flags (skipping their values) and positional arguments.
    _volman_load "$bin"
    subs=$_volman_subs flags=$_volman_flags
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $expect_value ]]; then
            case $expect_value in
            --socket) sock=(--socket "$w") ;;
            --tenant | --env | --app | --area) level+=("$expect_value" "$w") ;;
            esac
            expect_value=""
            continue
        fi
        if [[ $w == -* ]]; then
            [[ $w == --socket ]] && { expect_value=--socket; continue; }
            [[ $w == --socket=* ]] && sock=(--socket "${w#--socket=}")
            case $w in
            --tenant=* | --env=* | --app=* | --area=*) level+=("${w%%=*}" "${w#*=}") ;;
            esac
            _volman_flag_line "${w%%=*}"
            [[ $_volman_line == *VALUE && $w != *=* ]] && expect_value=$w
            continue
        fi
        if [[ -n $subs && $'\n'$subs$'\n' == *$'\n'$w$'\n'* ]]; then
            path+=("$w")
            _volman_load "$bin" "${path[@]}"
            subs=$_volman_subs
            flags+=$'\n'$_volman_flags
        else
            positional=$((positional + 1))
        fi
    done

    # A flag's value.
    local flag=$prev
    if [[ $cur == --*=* ]]; then
        flag=${cur%%=*}
        cur=${cur#*=}
    elif [[ $prev != -* ]]; then
        flag=""
    fi
    if [[ -n $flag ]]; then
        local long
        _volman_flag_line "$flag"
        for long in $_volman_line; do [[ $long == --* ]] && break; done
        if [[ $_volman_line == *VALUE ]]; then
            case $long in
            --socket | --root | --plugin-socket | --file | --output) COMPREPLY=($(compgen -f -- "$cur")) ;;
            --driver) COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" drivers)" -- "$cur")) ;;
            --tenant) COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" tenants)" -- "$cur")) ;;
            --env) COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" envs)" -- "$cur")) ;;
            --app) COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" apps)" -- "$cur")) ;;
            --strategy) COMPREPLY=($(compgen -W "recreate blue-green" -- "$cur")) ;;
            --area) COMPREPLY=($(compgen -W "configuration context" -- "$cur")) ;;
            --filter)
                local f
                f="label= tenant= env= app= name= dangling=true dangling=false"
                for w in $(_volman_query "$bin" "${sock[@]}" drivers); do f+=" driver=$w"; done
                compopt -o nospace 2>/dev/null
                COMPREPLY=($(compgen -W "$f" -- "$cur")) ;;
            *) COMPREPLY=() ;;
            esac
            return 0
        fi
    fi

    # A flag.
    if [[ $cur == -* ]]; then
        local all=() f
        for f in $flags; do [[ $f == -* ]] && all+=("$f"); done
        COMPREPLY=($(compgen -W "${all[*]}" -- "$cur"))
        return 0
    fi

    # A subcommand, or an argument of the leaf.
    if [[ -n $subs ]]; then
        COMPREPLY=($(compgen -W "$subs" -- "$cur"))
        return 0
    fi
    case "${path[*]}" in
    "volume inspect" | "volume rm" | "volume remove" | "volume mount" | "volume unmount")
        COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" volumes)" -- "$cur")) ;;
    "volume clone" | "volume update" | "volume snapshot "*)
        ((positional == 0)) && COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" volumes)" -- "$cur")) ;;
    "token rm")
        COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" tokens)" -- "$cur")) ;;
    "app file get" | "app file rm" | "app file remove")
        ((positional == 0)) && COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" files)" -- "$cur")) ;;
    "app secret rm" | "app secret remove")
        ((positional == 0)) && COMPREPLY=($(compgen -W "$(_volman_query "$bin" "${sock[@]}" secrets)" -- "$cur")) ;;
    *) COMPREPLY=() ;;
    esac
    return 0
}

complete -F _volman volman
