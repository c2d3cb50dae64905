# Sourced by the scripts that run debootstrap (scripts/make-debian-fixtures.sh,
# bench/make-pull-image.sh): a temp dir of their own that goes on exit, Ctrl-C or TERM, with the
# proc/sys mounts a failed debootstrap leaves in its target.
#   debootstrap_tmp PARENT   sets $tmp to a new PARENT/.build.XXXXXX and the traps that remove it
debootstrap_tmp() {
  tmp=$(mktemp -d "$1/.build.XXXXXX")
  trap debootstrap_tmp_remove EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
debootstrap_tmp_remove() {
  local m
  findmnt -rno TARGET | awk -v p="$tmp/" 'index($0, p) == 1' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$tmp"
}
