/*
 * shell.h -- raftkvctl's interactive shell (GNU readline).
 *
 * On a terminal: the prompt shows the node last talked to and its role, or
 * "not connected>"; history lives in ~/.raftkvctl_history (or
 * $RAFTKVCTL_HISTFILE; /dev/null disables it); Tab completes command names
 * and options; Ctrl-C clears the line at the prompt and cancels a request
 * in flight; Ctrl-D leaves.  When standard input is not a terminal the
 * shell runs the lines it reads as a script, without prompt or history.
 */
#ifndef RAFTKV_CLI_SHELL_H
#define RAFTKV_CLI_SHELL_H

#include "cmd.h"

/*
 * Runs the shell with ctx (borrowed) until Ctrl-D, "quit" or the end of
 * input.  Returns the exit status: 0, or in script mode the status of the
 * last command that failed.
 */
enum cmd_status shell_run(struct cmd_ctx *ctx);

/*
 * Computes completions of text (borrowed), the word at offset start of
 * line (borrowed): command names for the first word, else the options of
 * the line's command.  Returns a new NULL-terminated array in readline's
 * format (element 0 is the common prefix), or NULL when nothing matches.
 */
char	**shell_completions(const char *line, const char *text, int start);

#endif /* RAFTKV_CLI_SHELL_H */
