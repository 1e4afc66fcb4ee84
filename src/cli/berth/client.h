/* berth's own CLI talks to berthd through the same Engine API as docker,
 * with libcurl over the Unix socket. */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

#include <stddef.h>

#include "common/json.h"

struct client
{
  const char *socket;   /* path of berthd's socket */
  char api_version[16]; /* negotiated on first use: see client_api_version */
};

/* The API version to speak: 1.44, or the daemon's own when it is older
 * (its GET /_ping "Api-Version" header), as the docker CLI negotiates. */
const char *client_api_version (struct client *c);

struct client_reply
{
  long status;
  char *body;           /* NUL-terminated; NULL when streamed to a file */
  size_t len;
};

/* METHOD PATH (with query).  IN_FD >= 0 uploads that file as the body,
 * else BODY (may be NULL).  OUT_FD >= 0 receives the response body. */
int client_call (struct client *c, const char *method, const char *path, const char *body, int in_fd, int out_fd,
                 struct client_reply *reply, berth_err *err);
void client_reply_free (struct client_reply *r);

/* A 2xx reply's JSON, or an error made of the daemon's {"message"}. */
json_t *client_json (struct client *c, const char *method, const char *path, const char *body, berth_err *err);

/* URL-encode S into a heap string. */
char *client_escape (const char *s);

int cmd_version (struct client *c, int argc, char **argv);
int cmd_info (struct client *c, int argc, char **argv);
int cmd_images (struct client *c, int argc, char **argv);
int cmd_image_inspect (struct client *c, int argc, char **argv);
int cmd_rmi (struct client *c, int argc, char **argv);
int cmd_tag (struct client *c, int argc, char **argv);
int cmd_load (struct client *c, int argc, char **argv);
int cmd_save (struct client *c, int argc, char **argv);
int cmd_import (struct client *c, int argc, char **argv);
int cmd_history (struct client *c, int argc, char **argv);
int cmd_build (struct client *c, int argc, char **argv); /* build.c */

/* Containers (run.c, containers.c, exec.c, logs.c). */
int cmd_run (struct client *c, int argc, char **argv);
int cmd_create (struct client *c, int argc, char **argv);
int cmd_start (struct client *c, int argc, char **argv);
int cmd_stop (struct client *c, int argc, char **argv);
int cmd_kill (struct client *c, int argc, char **argv);
int cmd_restart (struct client *c, int argc, char **argv);
int cmd_rm (struct client *c, int argc, char **argv);
int cmd_ps (struct client *c, int argc, char **argv);
int cmd_logs (struct client *c, int argc, char **argv);
int cmd_exec (struct client *c, int argc, char **argv);
int cmd_wait (struct client *c, int argc, char **argv);
int cmd_inspect (struct client *c, int argc, char **argv);
int cmd_top (struct client *c, int argc, char **argv);
int cmd_pause (struct client *c, int argc, char **argv);
int cmd_unpause (struct client *c, int argc, char **argv);
int cmd_rename (struct client *c, int argc, char **argv);

/* Networks (network.c). */
int cmd_network (struct client *c, int argc, char **argv);
int cmd_port (struct client *c, int argc, char **argv);

#endif
