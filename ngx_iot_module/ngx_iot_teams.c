
/*
 * Copyright (C) nginx-iot authors
 *
 * Users and teams: a principal's memberships, the writes of users,
 * teams, members and invites, and the mapping of a team to its UUID.
 * Teams live in the store only (ngx_iot_store_teams.c); their writes run
 * the registry's write sequence (ngx_iot_write.h) with nothing to change
 * in the zone, so that they are durable when answered and decided in the
 * same transaction that makes them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"
#include "ngx_iot_write.h"
#include "ngx_iot_bus.h"
#include "ngx_iot_teams.h"


#define NGX_IOT_TEAM_TAGS_MAX      100
#define NGX_IOT_TEAM_CACHE         64


typedef struct {
    ngx_iot_write_t            w;
    ngx_iot_team_op_t         *op;        /* the caller's, in wait->pool */
    ngx_iot_rc_e               rc;
    ngx_iot_wait_t            *wait;
} ngx_iot_team_posted_t;


typedef struct {
    uint64_t                  *teams;
    u_char                    *roles;
    ngx_uint_t                 n;
    ngx_uint_t                 max;
    ngx_pool_t                *pool;
} ngx_iot_team_list_t;


static ngx_int_t ngx_iot_team_membership(void *row, void *data);
static ngx_iot_rc_e ngx_iot_team_check(ngx_iot_write_t *w);
static ngx_int_t ngx_iot_team_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_team_apply(ngx_iot_write_t *w);
static void ngx_iot_team_done(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_iot_team_run(ngx_iot_store_t *store,
    ngx_iot_team_op_t *op, ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_team_change(ngx_iot_store_t *store,
    ngx_iot_team_op_t *op, ngx_iot_team_t *team, ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_team_caller(ngx_iot_store_t *store,
    ngx_iot_team_op_t *op, ngx_iot_team_t *team, ngx_uint_t admin,
    ngx_log_t *log);
static ngx_iot_rc_e ngx_iot_team_tags(ngx_iot_store_t *store,
    ngx_iot_team_op_t *op, ngx_iot_team_t *team, ngx_log_t *log);
static ngx_int_t ngx_iot_team_found(void *row, void *data);
static ngx_int_t ngx_iot_team_role_found(void *row, void *data);
static ngx_int_t ngx_iot_team_invite_found(void *row, void *data);


/*
 * who's memberships are read from the store when first needed (a team
 * other than the user's own, whose one member the user always is): most
 * requests never need them.
 */

ngx_int_t
ngx_iot_auth_teams(ngx_cycle_t *cycle, ngx_iot_principal_t *who,
    ngx_pool_t *pool)
{
    who->pool = pool;
    who->loaded = 0;
    who->teams = NULL;
    who->roles = NULL;
    who->nteams = 0;

    return NGX_OK;
}


/* the teams of who's user, as the store has them now */

ngx_int_t
ngx_iot_auth_load(ngx_iot_principal_t *who)
{
    ngx_int_t             rc;
    ngx_pool_t           *pool;
    ngx_cycle_t          *cycle;
    ngx_iot_store_t      *store;
    ngx_iot_team_list_t   list;

    if (who->loaded) {
        return NGX_OK;
    }

    cycle = (ngx_cycle_t *) ngx_cycle;
    pool = who->pool;

    if (pool == NULL) {
        return NGX_ERROR;
    }

    list.max = 16;
    list.n = 0;
    list.pool = pool;
    list.teams = ngx_palloc(pool, list.max * sizeof(uint64_t));
    list.roles = ngx_palloc(pool, list.max);

    if (list.teams == NULL || list.roles == NULL) {
        return NGX_ERROR;
    }

    store = ngx_iot_store_get(cycle, cycle->log);

    rc = (store && who->user_id)
         ? ngx_iot_store_memberships(store, who->user_id,
                                     ngx_iot_team_membership, &list,
                                     cycle->log)
         : NGX_ERROR;

    if (rc == NGX_ERROR) {
        /*
         * The store cannot be read: the user's own team only, whose one
         * member it always is (never more than the store would say).
         */
        list.n = 0;

        if (who->team_id) {
            list.teams[0] = who->team_id;
            list.roles[0] = NGX_IOT_ROLE_ADMIN;
            list.n = 1;
        }
    }

    who->teams = list.teams;
    who->roles = list.roles;
    who->nteams = list.n;
    who->loaded = 1;

    return NGX_OK;
}


/* who acts within team alone (the iotda dialect's project) */

ngx_int_t
ngx_iot_auth_only(ngx_iot_principal_t *who, uint64_t team)
{
    ngx_int_t  role;

    if (ngx_iot_auth_load(who) != NGX_OK) {
        return NGX_DECLINED;
    }

    role = ngx_iot_auth_role(who, team);

    if (role == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    who->teams[0] = team;
    who->roles[0] = (u_char) role;
    who->nteams = 1;

    if (team != who->team_id) {
        who->team_id = 0;
    }

    return NGX_OK;
}


/*
 * The administrator acting within one team (the iotda dialect's project):
 * as an Admin member of that team alone, with every collection of it in
 * reach and no collection of another team.
 */

ngx_int_t
ngx_iot_auth_confine(ngx_iot_principal_t *who, uint64_t team,
    ngx_pool_t *pool)
{
    who->teams = ngx_palloc(pool, sizeof(uint64_t));
    who->roles = ngx_palloc(pool, 1);

    if (who->teams == NULL || who->roles == NULL) {
        return NGX_ERROR;
    }

    who->teams[0] = team;
    who->roles[0] = NGX_IOT_ROLE_ADMIN;
    who->nteams = 1;
    who->loaded = 1;

    if (team != who->team_id) {
        who->team_id = 0;
    }

    who->admin = 0;
    who->all = 1;
    who->write = 1;
    ngx_str_set(&who->resource, "/");

    return NGX_OK;
}


static ngx_int_t
ngx_iot_team_membership(void *row, void *data)
{
    ngx_iot_membership_t  *m = row;
    ngx_iot_team_list_t   *list = data;

    uint64_t  *teams;
    u_char    *roles;

    if (list->n == list->max) {
        /* a user of many teams: twice the room, from the request's pool */
        teams = ngx_palloc(list->pool, 2 * list->max * sizeof(uint64_t));
        roles = ngx_palloc(list->pool, 2 * list->max);

        if (teams == NULL || roles == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(teams, list->teams, list->n * sizeof(uint64_t));
        ngx_memcpy(roles, list->roles, list->n);

        list->teams = teams;
        list->roles = roles;
        list->max *= 2;
    }

    list->teams[list->n] = m->team_id;
    list->roles[list->n] = (u_char) m->role;
    list->n++;

    return NGX_OK;
}


ngx_iot_rc_e
ngx_iot_team_write(ngx_cycle_t *cycle, ngx_iot_team_op_t *op, ngx_log_t *log,
    ngx_iot_wait_t *wait)
{
    ngx_iot_rc_e            rc;
    ngx_iot_team_posted_t  *p;

    p = ngx_pcalloc(wait->pool, sizeof(ngx_iot_team_posted_t));
    if (p == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    p->op = op;
    p->wait = wait;
    p->rc = NGX_IOT_STORE_ERROR;

    p->w.check = ngx_iot_team_check;
    p->w.write = ngx_iot_team_store;
    p->w.apply = ngx_iot_team_apply;
    p->w.data = p;
    p->w.pool = wait->pool;
    p->w.log = log;
    p->w.done = ngx_iot_team_done;
    p->w.done_data = p;

    rc = ngx_iot_write_post(cycle, &p->w);

    return rc;
}


static ngx_iot_rc_e
ngx_iot_team_check(ngx_iot_write_t *w)
{
    /* nothing of the zone changes */
    return NGX_IOT_OK;
}


static ngx_int_t
ngx_iot_team_store(ngx_iot_write_t *w)
{
    ngx_iot_team_posted_t  *p = w->data;

    p->rc = ngx_iot_team_run(w->store, p->op, w->log);

    return (p->rc == NGX_IOT_STORE_ERROR) ? NGX_ERROR : NGX_OK;
}


static ngx_iot_rc_e
ngx_iot_team_apply(ngx_iot_write_t *w)
{
    ngx_iot_team_posted_t  *p = w->data;

    if (p->rc == NGX_IOT_OK && p->op->what == NGX_IOT_TEAM_OP_DELETE) {
        /* every worker's teams resolved before are looked up again */
        (void) ngx_atomic_fetch_add(&w->ctx->sh->teams_deleted, 1);
    }

    return p->rc;
}


static void
ngx_iot_team_done(ngx_iot_write_t *w)
{
    ngx_iot_team_posted_t  *p = w->done_data;

    if (w->rc == NGX_IOT_OK && p->op->what == NGX_IOT_TEAM_OP_LEAVE) {
        /* the user's live streams of the team's collections close */
        ngx_iot_bus_revise();
    }

    p->wait->rc = w->rc;
    p->wait->handler(p->wait);
}


/* in the writer's transaction: decide, then write */

static ngx_iot_rc_e
ngx_iot_team_run(ngx_iot_store_t *store, ngx_iot_team_op_t *op,
    ngx_log_t *log)
{
    ngx_int_t         rc;
    ngx_uint_t        n;
    ngx_iot_rc_e      irc;
    ngx_iot_team_t    team;
    ngx_iot_invite_t  inv;

    switch (op->what) {

    case NGX_IOT_TEAM_OP_USER_ADD:
        op->user.id = ngx_iot_id_new();
        op->user.team_id = ngx_iot_id_new();
        op->team_id = op->user.team_id;
        op->user_id = op->user.id;

        if (ngx_iot_uuid_new(team.uuid) != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }

        return ngx_iot_store_user_add(store, &op->user, team.uuid, log)
               == NGX_OK ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    case NGX_IOT_TEAM_OP_ADD:
        ngx_memzero(&team, sizeof(ngx_iot_team_t));
        team.id = ngx_iot_id_new();
        ngx_str_set(&team.tags, "{}");

        if (ngx_iot_uuid_new(team.uuid) != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }

        if (ngx_iot_store_team_add(store, &team, op->caller, log) != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }

        op->team_id = team.id;

        if (op->tags == NULL) {
            return NGX_IOT_OK;
        }

        return ngx_iot_team_tags(store, op, &team, log);

    case NGX_IOT_TEAM_OP_ACCEPT:
        inv.team_id = 0;
        rc = ngx_iot_store_invites(store, 0, op->invite.code,
                                   ngx_iot_team_invite_found, &inv, log);
        if (rc == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return NGX_IOT_NOT_FOUND;
        }

        op->team_id = inv.team_id;

        n = NGX_IOT_ROLE_MEMBER + 2;
        rc = ngx_iot_store_team_members(store, inv.team_id, op->caller,
                                        ngx_iot_team_role_found, &n, log);
        if (rc == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (rc == NGX_OK) {
            return NGX_IOT_EXISTS;
        }

        if (ngx_iot_store_team_member_put(store, inv.team_id, op->caller,
                                     NGX_IOT_ROLE_MEMBER, log)
            != NGX_OK
            || ngx_iot_store_invite_delete(store, op->invite.code, log)
               != NGX_OK)
        {
            return NGX_IOT_STORE_ERROR;
        }

        return NGX_IOT_OK;

    default:
        break;
    }

    /* the rest concern a team the caller is a member of */

    team.tags.data = NULL;

    irc = ngx_iot_team_caller(store, op, &team, 1, log);

    if (irc == NGX_IOT_OK) {
        irc = ngx_iot_team_change(store, op, &team, log);
    }

    if (team.tags.data) {
        ngx_free(team.tags.data);
    }

    return irc;
}


/* a change of a team the caller may change */

static ngx_iot_rc_e
ngx_iot_team_change(ngx_iot_store_t *store, ngx_iot_team_op_t *op,
    ngx_iot_team_t *team, ngx_log_t *log)
{
    u_char            raw[NGX_IOT_INVITE_LEN / 2];
    ngx_int_t         rc;
    ngx_uint_t        n;
    ngx_iot_invite_t  inv;

    switch (op->what) {

    case NGX_IOT_TEAM_OP_TAGS:
        return ngx_iot_team_tags(store, op, team, log);

    case NGX_IOT_TEAM_OP_DELETE:
        if (team->owner) {
            return NGX_IOT_FORBIDDEN;
        }

        if (ngx_iot_store_team_collections(store, team->id, &n, log)
            != NGX_OK)
        {
            return NGX_IOT_STORE_ERROR;
        }

        if (n) {
            return NGX_IOT_NOT_EMPTY;
        }

        return ngx_iot_store_team_delete(store, team->id, log) == NGX_OK
               ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    case NGX_IOT_TEAM_OP_ROLE:
    case NGX_IOT_TEAM_OP_LEAVE:
        if (op->user_id == op->caller) {
            return NGX_IOT_FORBIDDEN;
        }

        n = NGX_IOT_ROLE_MEMBER + 2;
        rc = ngx_iot_store_team_members(store, team->id, op->user_id,
                                        ngx_iot_team_role_found, &n, log);
        if (rc == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return NGX_IOT_NOT_FOUND;
        }

        rc = (op->what == NGX_IOT_TEAM_OP_ROLE)
             ? ngx_iot_store_team_member_put(store, team->id, op->user_id,
                                        op->role, log)
             : ngx_iot_store_team_member_delete(store, team->id, op->user_id,
                                                log);

        return rc == NGX_OK ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    case NGX_IOT_TEAM_OP_INVITE:
        if (team->owner) {
            return NGX_IOT_FORBIDDEN;
        }

        if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
            return NGX_IOT_STORE_ERROR;
        }

        ngx_hex_dump(op->invite.code, raw, sizeof(raw));
        op->invite.team_id = team->id;
        op->invite.created_at = ngx_iot_now_ms();

        return ngx_iot_store_invite_add(store, &op->invite, log) == NGX_OK
               ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    case NGX_IOT_TEAM_OP_UNINVITE:
        rc = ngx_iot_store_invites(store, team->id, op->invite.code,
                                   ngx_iot_team_invite_found, &inv, log);
        if (rc == NGX_ERROR) {
            return NGX_IOT_STORE_ERROR;
        }

        if (rc == NGX_DECLINED) {
            return NGX_IOT_NOT_FOUND;
        }

        return ngx_iot_store_invite_delete(store, op->invite.code, log)
               == NGX_OK ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    default:
        return NGX_IOT_STORE_ERROR;
    }
}


/*
 * The team of op and the caller's place in it: not a member, no such
 * team (404); admin set and the caller is not an Admin: 403.
 */

static ngx_iot_rc_e
ngx_iot_team_caller(ngx_iot_store_t *store, ngx_iot_team_op_t *op,
    ngx_iot_team_t *team, ngx_uint_t admin, ngx_log_t *log)
{
    ngx_int_t   rc;
    ngx_uint_t  role;

    rc = ngx_iot_store_team_find(store, op->team_id, NULL,
                                 ngx_iot_team_found, team, log);
    if (rc == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return NGX_IOT_NOT_FOUND;
    }

    role = NGX_IOT_ROLE_MEMBER + 2;
    rc = ngx_iot_store_team_members(store, op->team_id, op->caller,
                                    ngx_iot_team_role_found, &role, log);
    if (rc == NGX_ERROR) {
        return NGX_IOT_STORE_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return NGX_IOT_NOT_FOUND;
    }

    if (admin && role != NGX_IOT_ROLE_ADMIN) {
        return NGX_IOT_FORBIDDEN;
    }

    return NGX_IOT_OK;
}


/* the team's tags merged with op's ("" removes one) */

static ngx_iot_rc_e
ngx_iot_team_tags(ngx_iot_store_t *store, ngx_iot_team_op_t *op,
    ngx_iot_team_t *team, ngx_log_t *log)
{
    char          *text;
    json_t        *tags, *v;
    ngx_str_t      s;
    const char    *key;
    ngx_iot_rc_e   rc;

    tags = json_loadb((char *) team->tags.data, team->tags.len, 0, NULL);

    if (!json_is_object(tags)) {
        json_decref(tags);
        tags = json_object();
        if (tags == NULL) {
            return NGX_IOT_STORE_ERROR;
        }
    }

    if (op->tag.len
        && json_object_getn(tags, (char *) op->tag.data, op->tag.len) == NULL)
    {
        json_decref(tags);
        return NGX_IOT_NOT_FOUND;
    }

    if (op->tags == NULL) {
        json_decref(tags);
        return NGX_IOT_OK;
    }

    json_object_foreach(op->tags, key, v) {
        if (json_string_length(v) == 0) {
            (void) json_object_del(tags, key);

        } else if (json_object_set(tags, key, v) != 0) {
            json_decref(tags);
            return NGX_IOT_STORE_ERROR;
        }
    }

    if (json_object_size(tags) > NGX_IOT_TEAM_TAGS_MAX) {
        json_decref(tags);
        return NGX_IOT_TOO_MANY_TAGS;
    }

    text = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);

    if (text == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    s.data = (u_char *) text;
    s.len = ngx_strlen(text);

    rc = ngx_iot_store_team_tags(store, team->id, &s, log) == NGX_OK
         ? NGX_IOT_OK : NGX_IOT_STORE_ERROR;

    free(text);

    return rc;
}


static ngx_int_t
ngx_iot_team_found(void *row, void *data)
{
    ngx_iot_team_t  *t = row;
    ngx_iot_team_t  *out = data;

    u_char  *p;

    *out = *t;

    /* the tags' text outlives the statement: the thread's own copy */
    p = ngx_alloc(t->tags.len + 1, ngx_cycle->log);
    if (p == NULL) {
        out->tags.data = NULL;
        return NGX_ERROR;
    }

    ngx_memcpy(p, t->tags.data, t->tags.len);
    out->tags.data = p;

    return NGX_DONE;
}


static ngx_int_t
ngx_iot_team_role_found(void *row, void *data)
{
    ngx_iot_membership_t  *m = row;
    ngx_uint_t            *role = data;

    *role = m->role;

    return NGX_DONE;
}


static ngx_int_t
ngx_iot_team_invite_found(void *row, void *data)
{
    ngx_iot_invite_t  *inv = row;
    ngx_iot_invite_t  *out = data;

    *out = *inv;

    return NGX_DONE;
}


/* the one mapping of a team's names */

/*
 * The teams a worker resolved, as long as no team was deleted since: an
 * id and a UUID of a team never change, and a team lives until deleted,
 * so the store is read once per team rather than for every request that
 * names one.
 */

typedef struct {
    uint64_t                   id;
    u_char                     uuid[NGX_IOT_UUID_SIZE];
    ngx_atomic_uint_t          deleted;   /* teams_deleted when found */
} ngx_iot_team_resolved_t;


static ngx_iot_team_resolved_t  ngx_iot_teams_resolved[NGX_IOT_TEAM_CACHE];
static ngx_uint_t               ngx_iot_teams_resolved_next;


/* a team by its id (or, id 0, its UUID): remembered, else from the store */

static ngx_int_t
ngx_iot_team_lookup(ngx_cycle_t *cycle, uint64_t id, u_char *uuid,
    ngx_iot_team_t *team)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_iot_store_t          *store;
    ngx_atomic_uint_t         deleted;
    ngx_iot_team_resolved_t  *t;

    deleted = ngx_iot_zone_ctx(cycle)->sh->teams_deleted;

    for (i = 0; i < NGX_IOT_TEAM_CACHE; i++) {
        t = &ngx_iot_teams_resolved[i];

        if (t->id && t->deleted == deleted
            && (id ? t->id == id
                   : ngx_memcmp(t->uuid, uuid, NGX_IOT_UUID_SIZE) == 0))
        {
            team->id = t->id;
            ngx_memcpy(team->uuid, t->uuid, NGX_IOT_UUID_SIZE);
            return NGX_OK;
        }
    }

    store = ngx_iot_store_get(cycle, cycle->log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    team->id = 0;
    team->tags.data = NULL;

    rc = ngx_iot_store_team_find(store, id, id ? NULL : uuid,
                                 ngx_iot_team_found, team, cycle->log);

    if (team->tags.data) {
        ngx_free(team->tags.data);
        team->tags.data = NULL;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    t = &ngx_iot_teams_resolved[ngx_iot_teams_resolved_next++
                                % NGX_IOT_TEAM_CACHE];
    t->id = team->id;
    ngx_memcpy(t->uuid, team->uuid, NGX_IOT_UUID_SIZE);
    t->deleted = deleted;

    return NGX_OK;
}


ngx_int_t
ngx_iot_team_resolve(ngx_cycle_t *cycle, ngx_iot_principal_t *who,
    u_char *name, size_t len, uint64_t *team_id, u_char *uuid)
{
    u_char          text[NGX_IOT_UUID_LEN];
    size_t          i, n;
    uint64_t        id;
    ngx_int_t       rc;
    ngx_iot_team_t  team;

    id = 0;
    ngx_memzero(uuid, NGX_IOT_UUID_SIZE);

    if (ngx_iot_id_decode(name, len, &id) != NGX_OK) {
        id = 0;

        if (len == 32) {
            /* 32 hex digits, as IoTDA writes project ids */
            for (i = 0, n = 0; i < len; i++) {
                if (n == 8 || n == 13 || n == 18 || n == 23) {
                    text[n++] = '-';
                }

                text[n++] = name[i];
            }

            if (ngx_iot_uuid_decode(text, NGX_IOT_UUID_LEN, uuid) != NGX_OK) {
                return NGX_DECLINED;
            }

        } else if (ngx_iot_uuid_decode(name, len, uuid) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    rc = ngx_iot_team_lookup(cycle, id, uuid, &team);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!who->admin && ngx_iot_auth_role(who, team.id) == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    *team_id = team.id;
    ngx_memcpy(uuid, team.uuid, NGX_IOT_UUID_SIZE);

    return NGX_OK;
}


ngx_int_t
ngx_iot_team_uuid_of(ngx_cycle_t *cycle, uint64_t team_id, u_char *uuid)
{
    ngx_int_t       rc;
    ngx_iot_team_t  team;

    if (team_id == ngx_iot_team_id(cycle)) {
        ngx_memcpy(uuid, ngx_iot_team_uuid(cycle), NGX_IOT_UUID_SIZE);
        return NGX_OK;
    }

    if (team_id == 0) {
        return NGX_DECLINED;
    }

    rc = ngx_iot_team_lookup(cycle, team_id, NULL, &team);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memcpy(uuid, team.uuid, NGX_IOT_UUID_SIZE);

    return NGX_OK;
}
