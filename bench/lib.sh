# lib.sh: what the scripts of bench/ share; each sources it.

# free_port N: the first TCP port of 127.0.0.1, from N on, that nothing
# listens on (a connection to it is refused).
free_port() {
  local p=$1
  while (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# scratch: work becomes a new directory; on exit the server whose pid is in
# pid, when there is one, is stopped, and the directory removed.
scratch() {
  work=$(mktemp -d)
  pid=
  trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}
