#!/bin/sh
# Writes the sinks(1) man page (roff) to stdout, made from the binary's own help texts: `sinks
# --help` and `sinks CMD --help` for every command `sinks --commands` lists. No hand-written copy.
# usage: tools/man.sh build/sinks > build/sinks.1
set -eu
SINKS=${1:?usage: tools/man.sh path/to/sinks}
# roff: a backslash is \e; a line starting with . or ' would be a request, \& keeps it text
roff() { sed -e 's/\\/\\e/g' -e 's/^[.'"'"']/\\\&&/'; }
version=$("$SINKS" --version | sed 's/^sinks //')
cat <<HEAD
.TH SINKS 1 "" "sinks $version" "User Commands"
.SH NAME
sinks \- StreamingLLM (attention sinks) in plain C: generate, chat, perplexity and pictures
.SH SYNOPSIS
.B sinks
.I command
[\fIoptions\fR]
.SH DESCRIPTION
.nf
HEAD
"$SINKS" --help | roff
echo ".fi"
echo ".SH COMMANDS"
for cmd in $("$SINKS" --commands); do
    echo ".SS $cmd"
    echo ".nf"
    "$SINKS" "$cmd" --help | roff
    echo ".fi"
done
cat <<TAIL
.SH FILES
.TP
.I \$HOME/.cache/streaming-sinks/SmolLM2-135M-Instruct.Q4_1.gguf
the default model (\fBmake model\fR fetches it; \fB\$SINKS_MODEL\fR or \fB\-\-model\fR choose another)
.SH SEE ALSO
The book in the source tree (\fBmake book\fR), and \fBsinks \-\-completion bash\fR for shell completion.
TAIL
