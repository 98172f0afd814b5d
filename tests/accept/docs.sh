#!/bin/bash
# The docs: README.md is the front door (at most 250 lines, a link to every
# docs/ page), every link of every page resolves inside the repository (files
# and #anchors), nothing refers to files outside it, each docs page opens with
# its question, commands.md's help texts are migrace's, and so are the man
# pages scripts/gen-man makes of it.
source "$(dirname "$0")/lib.bash"
PAGES=(README.md docs/*.md)
# the pages whose links must resolve: these and every other tracked page
mapfile -t LINKPAGES < <(printf '%s\n' "${PAGES[@]}" $(git ls-files '*.md') | sort -u)
ROOT=$(pwd -P)

# the GitHub anchor of a heading: lower case, punctuation dropped, spaces to -
slug() { tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'; }
# the anchors of a markdown file: its headings outside code blocks
anchors() { awk '/^```/{f=!f} !f && /^#+ /' "$1" | sed 's/^#* //' | slug; }
# the links of a markdown file, outside indented and fenced code: TARGET per line
links() {
	awk '/^```/{f=!f; next} f || /^(    |\t)/ {next} {print}' "$1" |
		grep -o '\]([^) ]*)' | sed 's/^](//; s/)$//'
}

n=$(wc -l < README.md)
check "README.md has at most 250 lines ($n)" test "$n" -le 250

for p in docs/*.md; do
	check "README.md links to $p" grep -q "]($p)" README.md
done

bad=""
for f in "${LINKPAGES[@]}"; do
	dir=$(dirname "$f")
	while IFS= read -r t; do
		case $t in http://* | https://* | mailto:*) continue ;; esac
		path=${t%%#*} anchor=""
		[ "$path" != "$t" ] && anchor=${t#*#}
		if [ -z "$path" ]; then
			target=$f
		else
			target=$dir/$path
			if [ ! -e "$target" ]; then
				bad+="$f: ($t): no such file"$'\n'
				continue
			fi
			case $(realpath "$target") in
			"$ROOT" | "$ROOT"/*) ;;
			*) bad+="$f: ($t): outside the repository"$'\n'; continue ;;
			esac
		fi
		if [ -n "$anchor" ] && [[ $target == *.md ]] && ! anchors "$target" | grep -qxF -- "$anchor"; then
			bad+="$f: ($t): no heading with that anchor in $target"$'\n'
		fi
	done < <(links "$f")
done
OUT=$bad
check "every link in README.md, docs/*.md and the other pages resolves inside the repository" test -z "$bad"

# every docs/x.md that a tracked file mentions exists
bad=""
for m in $(git grep -hoI -E 'docs/[A-Za-z0-9_-]+\.md' -- . ':!tests/accept/docs.sh' | sort -u); do
	[ -f "$m" ] || bad+="$m is mentioned but does not exist"$'\n'
done
OUT=$bad
check "every docs/x.md mentioned in the repository exists" test -z "$bad"

OUT=$(git grep -nI -e '\.\./shared' -e 'shared/DESIGN' -e 'shared/STYLE' -- . ':!tests/accept/docs.sh')
check "nothing in the repository refers to ../shared" test -z "$OUT"
OUT=$(grep -n '/work/' "${PAGES[@]}" RESULTS.md core/README.md scenarios/README.md fakes/README.md)
check "no page names a path of the machine it was written on (/work/)" test -z "$OUT"

bad=""
for p in docs/*.md; do
	# the first paragraph after the title
	q=$(awk 'NR > 1 && NF {p = 1} p && !NF {exit} p' "$p" | tr '\n' ' ')
	[[ $q == \** && $q == *'?* ' ]] || bad+="$p does not open with its question: $q"$'\n'
done
OUT=$bad
check "each docs page opens with the question it answers (*...?*)" test -z "$bad"

# commands.md: a section per command of `migrace help`, and each help text
# on the page is the one the built migrace prints
cmds=$($M help | sed -n '/^commands:/,/^$/p' | grep -oE '^  [a-z]+' | tr -d ' ' | grep -vx help)
for c in $cmds; do
	check "docs/commands.md has a section for $c" grep -qx "## $c" docs/commands.md
done
for c in "" $cmds; do
	want=$($M help $c)
	got=$(awk -v h="    \$ build/bin/migrace help${c:+ $c}" '
		$0 == h {on = 1; next}
		on && (/^[^ ]/ || /^    \$ /) {exit}
		on {sub(/^    /, ""); print}' docs/commands.md | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
	[ -z "$want" ] && continue
	OUT=$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got"))
	check "docs/commands.md shows 'migrace help${c:+ $c}' as migrace prints it" test -z "$OUT"
done
# the man pages are the same text: generated from docs/commands.md, every
# command's usage in migrace.1, migrace-cc's in migrace-cc.1
expect "scripts/gen-man writes migrace.1 and migrace-cc.1" 0 "migrace-cc.1" scripts/gen-man 0.0.0 "$OUTDIR/man"
for c in $cmds; do
	u=$($M help $c | head -1)
	check "  ... migrace.1 holds '$u'" grep -qF -- "${u//-/\\-}" "$OUTDIR/man/migrace.1"
done
u=$(build/bin/migrace-cc --help 2>&1 | head -1)
check "  ... migrace-cc.1 holds '$u'" grep -qF -- "${u//-/\\-}" "$OUTDIR/man/migrace-cc.1"
if command -v groff > /dev/null; then
	for p in migrace migrace-cc; do
		OUT=$(groff -man -Tutf8 -ww -z "$OUTDIR/man/$p.1" 2>&1)
		check "  ... groff reads $p.1 without a warning" test -z "$OUT"
	done
fi
finish
