
/*
 * Copyright (C) nginx-iot authors
 *
 * Users and teams (ngx_iot_teams.c): a principal's memberships, the
 * writes of users, teams, members and invites (each decided and made in
 * one store transaction of the writer), and the one mapping between a
 * team and the names other dialects give it (the things dialect's
 * clientId, the iotda dialect's project_id: the team's UUID).
 */


#ifndef _NGX_IOT_TEAMS_H_INCLUDED_
#define _NGX_IOT_TEAMS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_iot.h"


typedef enum {
    NGX_IOT_TEAM_OP_USER_ADD = 0,
    NGX_IOT_TEAM_OP_ADD,
    NGX_IOT_TEAM_OP_TAGS,
    NGX_IOT_TEAM_OP_DELETE,
    NGX_IOT_TEAM_OP_ROLE,
    NGX_IOT_TEAM_OP_LEAVE,
    NGX_IOT_TEAM_OP_INVITE,
    NGX_IOT_TEAM_OP_UNINVITE,
    NGX_IOT_TEAM_OP_ACCEPT
} ngx_iot_team_op_e;


/*
 * A write about users or teams.  The caller (a user) is checked in the
 * write itself, against the store as it is then: a team it is not a
 * member of is NGX_IOT_NOT_FOUND, a change a Member may not make (or
 * one of its own membership, or a user's own team deleted or shared)
 * NGX_IOT_FORBIDDEN, an invite to a team it is in already NGX_IOT_EXISTS,
 * a team with collections NGX_IOT_NOT_EMPTY.
 */
typedef struct {
    ngx_iot_team_op_e          what;
    uint64_t                   caller;
    uint64_t                   team_id;   /* in; out: a new team's */
    uint64_t                   user_id;   /* a membership's; a new user */
    ngx_uint_t                 role;
    json_t                    *tags;      /* to merge ("" removes) */
    ngx_str_t                  tag;       /* one tag that must exist */
    ngx_iot_user_t             user;      /* a new user's fields */
    ngx_iot_invite_t           invite;    /* in (a code); out: a new one */
} ngx_iot_team_op_t;


/* posts op (the wait's pool keeps it); as ngx_iot_write_post() */
ngx_iot_rc_e ngx_iot_team_write(ngx_cycle_t *cycle, ngx_iot_team_op_t *op,
    ngx_log_t *log, ngx_iot_wait_t *wait);

/*
 * A team named as other dialects name it: its UUID (any case, with or
 * without dashes), or its 13-character id.  NGX_OK with the team's id
 * and UUID when it exists and who is a member of it (an administrator:
 * when it exists); NGX_DECLINED otherwise; NGX_ERROR.
 */
ngx_int_t ngx_iot_team_resolve(ngx_cycle_t *cycle, ngx_iot_principal_t *who,
    u_char *name, size_t len, uint64_t *team_id, u_char *uuid);

/* a team's UUID by its id (kept by each worker: it never changes) */
ngx_int_t ngx_iot_team_uuid_of(ngx_cycle_t *cycle, uint64_t team_id,
    u_char *uuid);


#endif /* _NGX_IOT_TEAMS_H_INCLUDED_ */
