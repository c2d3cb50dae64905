# bash completion for hoist, the docker-style CLI.
#   source scripts/completion/hoist.bash     (or copy to /etc/bash_completion.d/hoist)
# Completes commands, their flags, and container / image names from the daemon
# (`hoist ps -a --format '{{.Names}}'`, `hoist images --format '{{.Repository}}:{{.Tag}}'`).

_hoist_global_args() {
  # -H/--host and --config given on the command line apply to the lookups too.
  local i args=()
  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
    case "${COMP_WORDS[i]}" in
      -H|--host|--config) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}"); ((i++)) ;;
      --host=*|--config=*) args+=("${COMP_WORDS[i]}") ;;
    esac
  done
  printf '%s\n' "${args[@]}"
}

_hoist_containers() {
  local -a g; mapfile -t g < <(_hoist_global_args)
  hoist "${g[@]}" ps -a --format '{{.Names}}' 2>/dev/null
}

_hoist_running() {
  local -a g; mapfile -t g < <(_hoist_global_args)
  hoist "${g[@]}" ps --format '{{.Names}}' 2>/dev/null
}

_hoist_images() {
  local -a g; mapfile -t g < <(_hoist_global_args)
  hoist "${g[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -v '<none>'
}

_hoist() {
  local cur prev cmd i
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  local commands="attach create events exec images import info inspect kill load login logout logs pause ps pull push rename restart rm rmi run save start stats stop system tag top unpause version wait container image"

  # Find the command (the first word that is not a global flag or its value).
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${COMP_WORDS[i]}" in
      -H|--host|--config) ((i++)) ;;
      -*) ;;
      *) cmd="${COMP_WORDS[i]}"; break ;;
    esac
  done

  if [[ -z "$cmd" ]]; then
    case "$prev" in
      -H|--host) COMPREPLY=($(compgen -W "unix:///run/hoist/hoist.sock" -- "$cur")); return ;;
      --config) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
    if [[ "$cur" == -* ]]; then
      COMPREPLY=($(compgen -W "-H --host --config --help --version" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return
  fi

  local flags="" what=""
  case "$cmd" in
    run|create)
      flags="-d --detach -i --interactive -t --tty --rm --name -e --env --env-file -w --workdir -u --user --entrypoint -m --memory --cpus --pids-limit --restart --read-only --cap-add --cap-drop --privileged --security-opt --init --health-cmd --health-interval --health-timeout --health-retries --health-start-period --no-healthcheck -p --publish -v --volume --network --hostname -l --label --stop-signal --stop-timeout"
      what=images
      case "$prev" in
        --env-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --restart) COMPREPLY=($(compgen -W "no always on-failure unless-stopped" -- "$cur")); return ;;
        --network) COMPREPLY=($(compgen -W "none host bridge" -- "$cur")); return ;;
        --cap-add|--cap-drop) COMPREPLY=($(compgen -W "ALL CHOWN DAC_OVERRIDE FOWNER KILL NET_ADMIN NET_BIND_SERVICE NET_RAW SETGID SETUID SYS_ADMIN SYS_PTRACE" -- "$cur")); return ;;
        --name|-e|--env|-w|--workdir|-u|--user|--entrypoint|-m|--memory|--cpus|--pids-limit|--security-opt|--health-*|-p|--publish|-v|--volume|--hostname|-l|--label|--stop-signal|--stop-timeout) return ;;
      esac ;;
    start) flags="-a --attach -i --interactive"; what=containers ;;
    stop|restart) flags="-t --time -s --signal"; what=running ;;
    kill) flags="-s --signal"; what=running
      [[ "$prev" == -s || "$prev" == --signal ]] && { COMPREPLY=($(compgen -W "KILL TERM INT HUP USR1 USR2 QUIT STOP" -- "$cur")); return; } ;;
    rm) flags="-f --force -v --volumes"; what=containers ;;
    ps) flags="-a --all -q --quiet -f --filter --format --no-trunc -n --last -l --latest -s --size" ;;
    logs) flags="-f --follow -n --tail -t --timestamps --since --until"; what=containers ;;
    exec) flags="-i --interactive -t --tty -e --env --env-file -u --user -w --workdir -d --detach --privileged"; what=running ;;
    attach) flags="--no-stdin"; what=running ;;
    wait|pause|unpause|top|rename) what=containers ;;
    stats) flags="--no-stream -a --all --format --no-trunc"; what=running ;;
    inspect) flags="-f --format --type -s --size"; what=both
      [[ "$prev" == --type ]] && { COMPREPLY=($(compgen -W "container image" -- "$cur")); return; } ;;
    images) flags="-q --quiet -a --all -f --filter --format --digests --no-trunc" ;;
    pull) flags="-q --quiet -a --all-tags --platform"; what=images ;;
    push) flags="-q --quiet -a --all-tags"; what=images ;;
    tag) what=images ;;
    rmi) flags="-f --force --no-prune"; what=images ;;
    save) flags="-o --output"; what=images
      [[ "$prev" == -o || "$prev" == --output ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
    load) flags="-i --input -q --quiet"
      [[ "$prev" == -i || "$prev" == --input ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
    import) flags="-m --message -c --change"; COMPREPLY=($(compgen -f -- "$cur")) ;;
    login) flags="-u --username -p --password --password-stdin" ;;
    events) flags="--since --until -f --filter --format" ;;
    version|info) flags="-f --format" ;;
    system)
      if [[ "$prev" == system ]]; then COMPREPLY=($(compgen -W "df prune info events" -- "$cur")); return; fi
      flags="-a --all -f --force --volumes --format -v --verbose" ;;
    container) COMPREPLY=($(compgen -W "ls list inspect rm start stop restart kill logs exec attach wait pause unpause top stats rename create run" -- "$cur")); [[ "$prev" == container ]] && return; what=containers ;;
    image) COMPREPLY=($(compgen -W "ls list inspect rm pull push tag save load import" -- "$cur")); [[ "$prev" == image ]] && return; what=images ;;
  esac

  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
    return
  fi
  local words=""
  case "$what" in
    containers) words="$(_hoist_containers)" ;;
    running) words="$(_hoist_running)" ;;
    images) words="$(_hoist_images)" ;;
    both) words="$(_hoist_containers) $(_hoist_images)" ;;
  esac
  [[ -n "$words" ]] && COMPREPLY+=($(compgen -W "$words" -- "$cur"))
}

complete -F _hoist hoist
