
/*
 * Copyright (C) nginx-iot authors
 *
 * The collections dialect: users (/users, by the admin token), the
 * caller's profile (/profile), teams (/teams, /teams/{tid}, its tags,
 * members and invites, POST /teams/accept).  Reads come from the store
 * (teams are not in the zone); writes are decided and made by the core
 * (ngx_iot_teams.c) in one transaction, against the store as it is then.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_collections.h"
#include "ngx_iot_teams.h"


#define NGX_HTTP_IOT_USER_FIELD_MAX  256


typedef struct {
    json_t                    *json;
    ngx_uint_t                 n;
} ngx_http_iot_teams_acc_t;


static ngx_int_t ngx_http_iot_teams_keep(ngx_http_request_t *r,
    json_t *json);
static ngx_int_t ngx_http_iot_teams_send(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);
static json_t *ngx_http_iot_teams_user_json(ngx_iot_user_t *u);
static json_t *ngx_http_iot_teams_member_json(ngx_iot_membership_t *m);
static json_t *ngx_http_iot_teams_invite_json(ngx_iot_invite_t *inv);
static json_t *ngx_http_iot_teams_team_json(ngx_http_request_t *r,
    uint64_t team_id);
static ngx_int_t ngx_http_iot_teams_row_team(void *row, void *data);
static ngx_int_t ngx_http_iot_teams_row_member(void *row, void *data);
static ngx_int_t ngx_http_iot_teams_row_invite(void *row, void *data);
static ngx_int_t ngx_http_iot_teams_row_user(void *row, void *data);
static ngx_int_t ngx_http_iot_teams_path(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, uint64_t *team_id);
static ngx_iot_team_op_t *ngx_http_iot_teams_op(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_iot_team_op_e what, uint64_t team_id);
static ngx_int_t ngx_http_iot_teams_post(ngx_http_request_t *r,
    ngx_iot_team_op_t *op);
static ngx_int_t ngx_http_iot_teams_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_teams_user_made(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_teams_token_made(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_teams_string(ngx_http_request_t *r,
    json_t *body, const char *name, ngx_str_t *out);


/* a change the write reads lives as long as the request */

static void
ngx_http_iot_teams_free(void *data)
{
    json_decref(data);
}


static ngx_int_t
ngx_http_iot_teams_keep(ngx_http_request_t *r, json_t *json)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_iot_teams_free;
    cln->data = json;

    return NGX_OK;
}


/* answers */

static ngx_int_t
ngx_http_iot_teams_send(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json)
{
    char       *text;
    size_t      len;
    ngx_buf_t  *b;

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    text = json_dumps(json, JSON_COMPACT);
    json_decref(json);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);

    /* a new user's answer holds its first token */
    ngx_explicit_memzero(text, len);
    free(text);

    return ngx_http_iot_send(r, status, b);
}


static json_t *
ngx_http_iot_teams_id(uint64_t id)
{
    u_char  buf[NGX_IOT_ID_LEN];

    return json_stringn((char *) buf, ngx_iot_id_encode(buf, id) - buf);
}


static json_t *
ngx_http_iot_teams_str(ngx_str_t *s)
{
    return json_stringn((char *) s->data, s->len);
}


/* a user as the client libraries read a member (every key, always) */

static json_t *
ngx_http_iot_teams_user_json(ngx_iot_user_t *u)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:s,s:s,s:s}",
                     "userId", ngx_http_iot_teams_id(u->id),
                     "privateTeamId", ngx_http_iot_teams_id(u->team_id),
                     "name", ngx_http_iot_teams_str(&u->name),
                     "email", ngx_http_iot_teams_str(&u->email),
                     "phone", ngx_http_iot_teams_str(&u->phone),
                     "avatarUrl", ngx_http_iot_teams_str(&u->avatar_url),
                     "verifiedEmail", 0, "verifiedPhone", 0,
                     "connectId", "", "gitHubLogin", "",
                     "authType", "token");
}


static json_t *
ngx_http_iot_teams_member_json(ngx_iot_membership_t *m)
{
    json_t  *j;

    j = ngx_http_iot_teams_user_json(&m->user);
    if (j == NULL) {
        return NULL;
    }

    if (json_object_set_new(j, "teamId", ngx_http_iot_teams_id(m->team_id))
        != 0
        || json_object_set_new(j, "role",
                               json_string(m->role == NGX_IOT_ROLE_ADMIN
                                           ? "Admin" : "Member"))
           != 0)
    {
        json_decref(j);
        return NULL;
    }

    (void) json_object_del(j, "privateTeamId");

    return j;
}


static json_t *
ngx_http_iot_teams_invite_json(ngx_iot_invite_t *inv)
{
    return json_pack("{s:s%,s:I}", "code", (char *) inv->code,
                     (size_t) NGX_IOT_INVITE_LEN,
                     "createdAt", (json_int_t) inv->created_at);
}


static ngx_int_t
ngx_http_iot_teams_row_team(void *row, void *data)
{
    ngx_iot_team_t  *t = row;
    json_t         **out = data;

    json_t  *tags;

    tags = json_loadb((char *) t->tags.data, t->tags.len, 0, NULL);

    if (!json_is_object(tags)) {
        json_decref(tags);
        tags = json_object();
    }

    *out = json_pack("{s:o,s:o,s:o}", "teamId", ngx_http_iot_teams_id(t->id),
                     "tags", tags, "members", json_array());

    return *out ? NGX_DONE : NGX_ERROR;
}


static ngx_int_t
ngx_http_iot_teams_row_member(void *row, void *data)
{
    ngx_http_iot_teams_acc_t  *acc = data;

    acc->n++;

    return json_array_append_new(acc->json,
                                 ngx_http_iot_teams_member_json(row)) == 0
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_iot_teams_row_invite(void *row, void *data)
{
    ngx_http_iot_teams_acc_t  *acc = data;

    acc->n++;

    return json_array_append_new(acc->json,
                                 ngx_http_iot_teams_invite_json(row)) == 0
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_iot_teams_row_user(void *row, void *data)
{
    ngx_http_iot_teams_acc_t  *acc = data;

    acc->n++;

    return json_array_append_new(acc->json,
                                 ngx_http_iot_teams_user_json(row)) == 0
           ? NGX_OK : NGX_ERROR;
}


/* a team with its members; NULL: an error (logged by the store) */

static json_t *
ngx_http_iot_teams_team_json(ngx_http_request_t *r, uint64_t team_id)
{
    json_t                    *team;
    ngx_int_t                  rc;
    ngx_iot_store_t           *store;
    ngx_http_iot_teams_acc_t   acc;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL) {
        return NULL;
    }

    team = NULL;

    rc = ngx_iot_store_team_find(store, team_id, NULL,
                                 ngx_http_iot_teams_row_team, &team,
                                 r->connection->log);
    if (rc != NGX_OK) {
        json_decref(team);
        return NULL;
    }

    acc.json = json_object_get(team, "members");
    acc.n = 0;

    if (ngx_iot_store_team_members(store, team_id, 0,
                                   ngx_http_iot_teams_row_member, &acc,
                                   r->connection->log)
        == NGX_ERROR)
    {
        json_decref(team);
        return NULL;
    }

    return team;
}


static ngx_int_t
ngx_http_iot_teams_store_error(ngx_http_request_t *r)
{
    return ngx_http_iot_collections_rc_error(r, NGX_IOT_STORE_ERROR, NULL);
}


/* /teams/{tid}...: the team, of which the caller must be a member */

static ngx_int_t
ngx_http_iot_teams_path(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    uint64_t *team_id)
{
    if (ngx_iot_id_decode(ctx->seg[1].data, ctx->seg[1].len, team_id)
        != NGX_OK
        || ngx_iot_auth_role(&ctx->who, *team_id) == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_iot_team_op_t *
ngx_http_iot_teams_op(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_iot_team_op_e what, uint64_t team_id)
{
    ngx_iot_team_op_t  *op;

    op = ngx_pcalloc(r->pool, sizeof(ngx_iot_team_op_t));
    if (op == NULL) {
        return NULL;
    }

    op->what = what;
    op->caller = ctx->who.user_id;
    op->team_id = team_id;

    return op;
}


static ngx_int_t
ngx_http_iot_teams_post(ngx_http_request_t *r, ngx_iot_team_op_t *op)
{
    ngx_iot_rc_e     rc;
    ngx_iot_wait_t  *wait;

    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wait = ngx_http_iot_waiter(r, ngx_http_iot_teams_answer, op);

    rc = ngx_iot_team_write((ngx_cycle_t *) ngx_cycle, op,
                            r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


/* a team write is durable (or was refused): its answer */

static ngx_int_t
ngx_http_iot_teams_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t              *j, *v;
    ngx_str_t            value;
    ngx_http_iot_ctx_t  *ctx;
    ngx_iot_team_op_t   *op;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;

    switch (rc) {

    case NGX_IOT_OK:
        break;

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                   op->what == NGX_IOT_TEAM_OP_ACCEPT
                   || op->what == NGX_IOT_TEAM_OP_UNINVITE
                   ? "invite not found"
                   : op->what == NGX_IOT_TEAM_OP_ROLE
                     || op->what == NGX_IOT_TEAM_OP_LEAVE
                   ? "member not found"
                   : op->tag.len ? "tag not found" : "team not found");

    case NGX_IOT_FORBIDDEN:
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                   (op->what == NGX_IOT_TEAM_OP_ROLE
                    || op->what == NGX_IOT_TEAM_OP_LEAVE)
                   && op->user_id == op->caller
                   ? "a user cannot change its own membership"
                   : op->what == NGX_IOT_TEAM_OP_DELETE
                     && ngx_iot_auth_role(&ctx->who, op->team_id)
                        == NGX_IOT_ROLE_ADMIN
                   ? "a user's own team cannot be deleted"
                   : op->what == NGX_IOT_TEAM_OP_INVITE
                     && ngx_iot_auth_role(&ctx->who, op->team_id)
                        == NGX_IOT_ROLE_ADMIN
                   ? "a user's own team has no invites"
                   : "only an Admin of the team may change it");

    case NGX_IOT_EXISTS:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "already a member of this team");

    case NGX_IOT_NOT_EMPTY:
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the team still has collections");

    default:
        return ngx_http_iot_collections_rc_error(r, rc, "team not found");
    }

    switch (op->what) {

    case NGX_IOT_TEAM_OP_USER_ADD:
        return ngx_http_iot_teams_user_made(r, rc);

    case NGX_IOT_TEAM_OP_ADD:
        return ngx_http_iot_teams_send(r, NGX_HTTP_CREATED,
                   ngx_http_iot_teams_team_json(r, op->team_id));

    case NGX_IOT_TEAM_OP_ACCEPT:
        return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                   ngx_http_iot_teams_team_json(r, op->team_id));

    case NGX_IOT_TEAM_OP_TAGS:
        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
        }

        j = ngx_http_iot_teams_team_json(r, op->team_id);

        if (ctx->nseg == 2) {
            return ngx_http_iot_teams_send(r, NGX_HTTP_OK, j);
        }

        v = json_incref(json_object_get(j, "tags"));
        json_decref(j);

        if (ctx->nseg == 3) {
            return ngx_http_iot_teams_send(r, NGX_HTTP_OK, v);
        }

        value.data = (u_char *) "";
        value.len = 0;

        j = json_object_getn(v, (char *) ctx->seg[3].data, ctx->seg[3].len);

        if (j) {
            value.data = (u_char *) json_string_value(j);
            value.len = json_string_length(j);
        }

        rc = ngx_http_iot_collections_send_value(r, &value);
        json_decref(v);

        return rc;

    case NGX_IOT_TEAM_OP_ROLE:
        return ngx_http_iot_collections_teams_member(r, ctx);

    case NGX_IOT_TEAM_OP_INVITE:
        return ngx_http_iot_teams_send(r, NGX_HTTP_CREATED,
                   ngx_http_iot_teams_invite_json(&op->invite));

    default:
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }
}


static ngx_int_t
ngx_http_iot_teams_string(ngx_http_request_t *r, json_t *body,
    const char *name, ngx_str_t *out)
{
    u_char  *p;
    json_t  *v;

    ngx_str_set(out, "");

    v = body ? ngx_http_iot_collections_field(body, name) : NULL;

    if (v == NULL) {
        return NGX_OK;
    }

    if (!json_is_string(v)
        || json_string_length(v) > NGX_HTTP_IOT_USER_FIELD_MAX)
    {
        p = ngx_pnalloc(r->pool, ngx_strlen(name) + 64);
        if (p == NULL) {
            return NGX_ERROR;
        }

        (void) ngx_sprintf(p, "%s must be a string of at most %d bytes%Z",
                           name, NGX_HTTP_IOT_USER_FIELD_MAX);

        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST, (char *) p);
    }

    out->data = (u_char *) json_string_value(v);
    out->len = json_string_length(v);

    return NGX_OK;
}


/* /users: the admin token lists users and makes them */

ngx_int_t
ngx_http_iot_collections_users(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_iot_store_t           *store;
    ngx_iot_team_op_t         *op;
    ngx_http_iot_teams_acc_t   acc;

    if (!ctx->who.admin) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "only the admin token manages users");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                  r->connection->log);

        acc.json = json_array();
        acc.n = 0;

        if (store == NULL || acc.json == NULL
            || ngx_iot_store_users(store, ngx_http_iot_teams_row_user, &acc,
                                   r->connection->log)
               == NGX_ERROR)
        {
            json_decref(acc.json);
            return ngx_http_iot_teams_store_error(r);
        }

        return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                                       json_pack("{s:o}", "users", acc.json));
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_USER_ADD, 0);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iot_teams_string(r, ctx->body, "name", &op->user.name)
        != NGX_OK
        || ngx_http_iot_teams_string(r, ctx->body, "email", &op->user.email)
           != NGX_OK
        || ngx_http_iot_teams_string(r, ctx->body, "phone", &op->user.phone)
           != NGX_OK
        || ngx_http_iot_teams_string(r, ctx->body, "avatarUrl",
                                     &op->user.avatar_url)
           != NGX_OK)
    {
        return ngx_http_iot_reject(r);
    }

    return ngx_http_iot_teams_post(r, op);
}


/* the user's first token, made once the user is durable */

static ngx_int_t
ngx_http_iot_teams_user_made(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    ngx_iot_wait_t          *wait;
    ngx_iot_team_op_t       *op;
    ngx_http_iot_ctx_t      *ctx;
    ngx_iot_token_change_t  *ch;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_collections_rc_error(r, rc, "user not found");
    }

    ch = ngx_pcalloc(r->pool, sizeof(ngx_iot_token_change_t));
    if (ch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&ch->resource, "/");
    ch->write = 1;
    ch->user_id = op->user_id;
    ch->team_id = op->team_id;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_teams_token_made, op);

    rc = ngx_iot_token_create((ngx_cycle_t *) ngx_cycle, ch, r->pool,
                              &wait->out.t, wait->secret,
                              r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


static ngx_int_t
ngx_http_iot_teams_token_made(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t              *j;
    ngx_iot_team_op_t   *op;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;

    if (rc != NGX_IOT_OK) {
        /* the user is made, without a token (docs/collections.md) */
        ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);
        return ngx_http_iot_collections_rc_error(r, rc, "user not found");
    }

    j = ngx_http_iot_teams_user_json(&op->user);

    if (j == NULL
        || json_object_set_new(j, "userId",
                               ngx_http_iot_teams_id(op->user_id)) != 0
        || json_object_set_new(j, "privateTeamId",
                               ngx_http_iot_teams_id(op->team_id)) != 0
        || json_object_set_new(j, "token",
                               json_stringn((char *) ctx->wait.secret,
                                            NGX_IOT_TOKEN_LEN)) != 0)
    {
        json_decref(j);
        ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(ctx->wait.secret, NGX_IOT_TOKEN_LEN);

    return ngx_http_iot_teams_send(r, NGX_HTTP_CREATED, j);
}


/* /profile: the caller */

ngx_int_t
ngx_http_iot_collections_profile(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                    *v;
    ngx_int_t                  rc;
    ngx_iot_store_t           *store;
    ngx_http_iot_teams_acc_t   acc;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    acc.json = json_array();
    acc.n = 0;

    rc = (store && acc.json)
         ? ngx_iot_store_user_find(store, ctx->who.user_id,
                                   ngx_http_iot_teams_row_user, &acc,
                                   r->connection->log)
         : NGX_ERROR;

    if (rc == NGX_ERROR) {
        json_decref(acc.json);
        return ngx_http_iot_teams_store_error(r);
    }

    if (rc == NGX_DECLINED) {
        json_decref(acc.json);
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "user not found");
    }

    v = json_incref(json_array_get(acc.json, 0));
    json_decref(acc.json);

    return ngx_http_iot_teams_send(r, NGX_HTTP_OK, v);
}


/* /teams: the caller's teams; POST makes one, the caller its Admin */

ngx_int_t
ngx_http_iot_collections_teams(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t             *list, *team, *tags;
    ngx_uint_t          i;
    ngx_iot_team_op_t  *op;

    if (r->method & NGX_HTTP_IOT_M_GET) {
        list = json_array();
        if (list == NULL || ngx_iot_auth_load(&ctx->who) != NGX_OK) {
            json_decref(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < ctx->who.nteams; i++) {
            team = ngx_http_iot_teams_team_json(r, ctx->who.teams[i]);

            if (team == NULL) {
                /* deleted since the request came */
                continue;
            }

            if (json_array_append_new(list, team) != 0) {
                json_decref(list);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                                       json_pack("{s:o}", "teams", list));
    }

    if (ngx_http_iot_collections_tags_field(r, ctx->body, &tags) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_ADD, 0);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->tags = tags;

    return ngx_http_iot_teams_post(r, op);
}


/* POST /teams/accept {"code":...}: joins the invite's team as a Member */

ngx_int_t
ngx_http_iot_collections_teams_accept(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t             *v;
    ngx_iot_team_op_t  *op;

    v = ngx_http_iot_collections_field(ctx->body, "code");

    if (v == NULL || !json_is_string(v)) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "code is required: the invite's code");
    }

    if (json_string_length(v) != NGX_IOT_INVITE_LEN) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "invite not found");
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_ACCEPT, 0);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(op->invite.code, json_string_value(v), NGX_IOT_INVITE_LEN);

    return ngx_http_iot_teams_post(r, op);
}


/* /teams/{tid}: GET, PATCH (tags; members ignored), DELETE */

ngx_int_t
ngx_http_iot_collections_team(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t             *tags;
    uint64_t            team_id;
    ngx_iot_team_op_t  *op;

    if (ngx_http_iot_teams_path(r, ctx, &team_id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "team not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                   ngx_http_iot_teams_team_json(r, team_id));
    }

    if (r->method == NGX_HTTP_DELETE) {
        return ngx_http_iot_teams_post(r,
                   ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_DELETE,
                                         team_id));
    }

    if (ngx_http_iot_collections_tags_field(r, ctx->body, &tags) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_TAGS, team_id);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a PATCH without tags changes nothing, but only an Admin may send it */
    op->tags = tags;

    return ngx_http_iot_teams_post(r, op);
}


/* /teams/{tid}/tags and /teams/{tid}/tags/{name} */

ngx_int_t
ngx_http_iot_collections_team_tags(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t             *team, *tags, *v, *change;
    uint64_t            team_id;
    ngx_int_t           rc;
    ngx_str_t           name, value;
    const char         *err;
    ngx_iot_team_op_t  *op;

    if (ngx_http_iot_teams_path(r, ctx, &team_id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "team not found");
    }

    name.len = 0;
    name.data = NULL;

    if (ctx->nseg == 4) {
        name = ctx->seg[3];

        if (name.len == 0 || name.len > 64
            || ngx_utf8_length(name.data, name.len) == (size_t) NGX_ERROR)
        {
            if (r->method != NGX_HTTP_PATCH) {
                return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                          "tag not found");
            }

            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "a tag name is 1 to 64 bytes of "
                                      "UTF-8");
        }
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        team = ngx_http_iot_teams_team_json(r, team_id);
        if (team == NULL) {
            return ngx_http_iot_teams_store_error(r);
        }

        tags = json_incref(json_object_get(team, "tags"));
        json_decref(team);

        if (name.len == 0) {
            return ngx_http_iot_teams_send(r, NGX_HTTP_OK, tags);
        }

        v = json_object_getn(tags, (char *) name.data, name.len);

        if (v == NULL) {
            json_decref(tags);
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "tag not found");
        }

        value.data = (u_char *) json_string_value(v);
        value.len = json_string_length(v);

        rc = ngx_http_iot_collections_send_value(r, &value);
        json_decref(tags);

        return rc;
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_TAGS, team_id);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (name.len == 0) {
        /* PATCH /tags: the body is the tags to merge */
        if (ngx_iot_tags_check(ctx->body, &err) != NGX_OK) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST, err);
        }

        op->tags = ctx->body;

        return ngx_http_iot_teams_post(r, op);
    }

    if (r->method == NGX_HTTP_DELETE) {
        /* the tag must exist */
        op->tag = name;
        v = json_string("");

    } else {
        /* PATCH {"value":..}: "" removes the tag */
        v = ngx_http_iot_collections_field(ctx->body, "value");

        if (v == NULL || !json_is_string(v) || json_string_length(v) > 1024) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "value must be a string of at most "
                                      "1024 bytes");
        }

        json_incref(v);
    }

    change = json_object();

    if (v == NULL || change == NULL
        || json_object_setn_new(change, (char *) name.data, name.len, v) != 0
        || ngx_http_iot_teams_keep(r, change) != NGX_OK)
    {
        json_decref(change);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->tags = change;

    return ngx_http_iot_teams_post(r, op);
}


/* /teams/{tid}/members and /members/{uid} */

ngx_int_t
ngx_http_iot_collections_teams_member(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                    *v;
    uint64_t                   team_id, user_id;
    ngx_int_t                  rc;
    ngx_iot_store_t           *store;
    ngx_iot_team_op_t         *op;
    ngx_http_iot_teams_acc_t   acc;

    if (ngx_http_iot_teams_path(r, ctx, &team_id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "team not found");
    }

    user_id = 0;

    if (ctx->nseg == 4
        && ngx_iot_id_decode(ctx->seg[3].data, ctx->seg[3].len, &user_id)
           != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "member not found");
    }

    if ((r->method & NGX_HTTP_IOT_M_GET)
        || (ctx->answer == ngx_http_iot_teams_answer))
    {
        /* a read, or the answer to a change of a role */

        store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                  r->connection->log);

        acc.json = json_array();
        acc.n = 0;

        rc = (store && acc.json)
             ? ngx_iot_store_team_members(store, team_id, user_id,
                                          ngx_http_iot_teams_row_member,
                                          &acc, r->connection->log)
             : NGX_ERROR;

        if (rc == NGX_ERROR) {
            json_decref(acc.json);
            return ngx_http_iot_teams_store_error(r);
        }

        if (ctx->nseg == 3) {
            return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                       json_pack("{s:o}", "members", acc.json));
        }

        if (acc.n == 0) {
            json_decref(acc.json);
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "member not found");
        }

        v = json_incref(json_array_get(acc.json, 0));
        json_decref(acc.json);

        return ngx_http_iot_teams_send(r, NGX_HTTP_OK, v);
    }

    op = ngx_http_iot_teams_op(r, ctx, r->method == NGX_HTTP_DELETE
                                       ? NGX_IOT_TEAM_OP_LEAVE
                                       : NGX_IOT_TEAM_OP_ROLE, team_id);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->user_id = user_id;

    if (r->method == NGX_HTTP_PATCH) {
        v = ngx_http_iot_collections_field(ctx->body, "role");

        if (v == NULL || !json_is_string(v)
            || (ngx_strcmp(json_string_value(v), "Admin") != 0
                && ngx_strcmp(json_string_value(v), "Member") != 0))
        {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "role must be \"Admin\" or "
                                      "\"Member\"");
        }

        op->role = ngx_strcmp(json_string_value(v), "Admin") == 0
                   ? NGX_IOT_ROLE_ADMIN : NGX_IOT_ROLE_MEMBER;
    }

    return ngx_http_iot_teams_post(r, op);
}


/* /teams/{tid}/invites and /invites/{code}: the team's Admins */

ngx_int_t
ngx_http_iot_collections_teams_invite(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx)
{
    json_t                    *v;
    uint64_t                   team_id;
    ngx_int_t                  rc;
    ngx_iot_store_t           *store;
    ngx_iot_team_op_t         *op;
    ngx_http_iot_teams_acc_t   acc;

    if (r->method == NGX_HTTP_POST) {
        /* any body, or none (the route reads it itself) */
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_iot_teams_path(r, ctx, &team_id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "team not found");
    }

    if (ngx_iot_auth_role(&ctx->who, team_id) != NGX_IOT_ROLE_ADMIN) {
        return ngx_http_iot_error(r, NGX_HTTP_FORBIDDEN,
                                  "only an Admin of the team may see or "
                                  "make its invites");
    }

    if (ctx->nseg == 4 && ctx->seg[3].len != NGX_IOT_INVITE_LEN) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "invite not found");
    }

    if (r->method & NGX_HTTP_IOT_M_GET) {
        store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle,
                                  r->connection->log);

        acc.json = json_array();
        acc.n = 0;

        rc = (store && acc.json)
             ? ngx_iot_store_invites(store, team_id,
                                     ctx->nseg == 4 ? ctx->seg[3].data
                                                    : NULL,
                                     ngx_http_iot_teams_row_invite, &acc,
                                     r->connection->log)
             : NGX_ERROR;

        if (rc == NGX_ERROR) {
            json_decref(acc.json);
            return ngx_http_iot_teams_store_error(r);
        }

        if (ctx->nseg == 3) {
            return ngx_http_iot_teams_send(r, NGX_HTTP_OK,
                       json_pack("{s:o}", "invites", acc.json));
        }

        if (acc.n == 0) {
            json_decref(acc.json);
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "invite not found");
        }

        v = json_incref(json_array_get(acc.json, 0));
        json_decref(acc.json);

        return ngx_http_iot_teams_send(r, NGX_HTTP_OK, v);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iot_teams_post(r,
                   ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_INVITE,
                                         team_id));
    }

    op = ngx_http_iot_teams_op(r, ctx, NGX_IOT_TEAM_OP_UNINVITE, team_id);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(op->invite.code, ctx->seg[3].data, NGX_IOT_INVITE_LEN);

    return ngx_http_iot_teams_post(r, op);
}
