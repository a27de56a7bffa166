
/*
 * Copyright (C) nginx-iot authors
 *
 * The things dialect's device groups: /device-groups (list, create),
 * /device-groups/{id} (get, PUT, DELETE), their devices
 * (/device-groups/{id}/devices: list, add; /{deviceId}: the link, remove),
 * and a device's links (/devices/{deviceId}/device-groups[/{id}]).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_iot_things.h"
#include "ngx_iot_teams.h"
#include "ngx_iot_groups.h"


/* how a write is answered */
typedef struct {
    ngx_uint_t                 status;
    ngx_uint_t                 member;    /* a membership, not a group */
    u_char                     device_uuid[NGX_IOT_UUID_SIZE];
    u_char                     group_uuid[NGX_IOT_UUID_SIZE];
} ngx_http_iot_things_group_answer_t;


static ngx_int_t ngx_http_iot_things_group_ref(ngx_http_request_t *r,
    ngx_str_t *seg, ngx_iot_group_t *g);
static ngx_int_t ngx_http_iot_things_group_fields(ngx_http_request_t *r,
    json_t *body, ngx_iot_group_change_t *ch);
static json_t *ngx_http_iot_things_group_json(ngx_iot_group_t *g);
static json_t *ngx_http_iot_things_link_json(u_char *device_uuid,
    u_char *group_uuid, ngx_iot_member_t *m);
static ngx_int_t ngx_http_iot_things_group_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_things_group_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b);
static ngx_int_t ngx_http_iot_things_member_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b);
static ngx_int_t ngx_http_iot_things_link_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b);
static ngx_int_t ngx_http_iot_things_list_of(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx, ngx_http_iot_things_list_e what,
    ngx_iot_store_kind_e kind, uint64_t scope, ngx_http_iot_list_row_pt row);
static ngx_int_t ngx_http_iot_things_put_json(ngx_buf_t *b, json_t *json);
static ngx_uint_t ngx_http_iot_things_times(ngx_http_iot_things_filter_t *f,
    uint64_t created, uint64_t modified);


/* GET /device-groups, POST /device-groups */

ngx_int_t
ngx_http_iot_things_groups(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_iot_rc_e                         rc;
    ngx_iot_wait_t                      *wait;
    ngx_iot_group_change_t               ch;
    ngx_http_iot_things_group_answer_t  *ans;

    if (r->method == NGX_HTTP_GET) {
        return ngx_http_iot_things_list_of(r, ctx,
                                           NGX_HTTP_IOT_THINGS_LIST_GROUPS,
                                           NGX_IOT_STORE_GROUPS, 0,
                                           ngx_http_iot_things_group_row);
    }

    if (ngx_http_iot_things_group_fields(r, ctx->body, &ch) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    ans = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_group_answer_t));
    if (ans == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ans->status = NGX_HTTP_CREATED;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_group_answer, ans);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_group_create((ngx_cycle_t *) ngx_cycle, &ch, r->pool,
                              &wait->out.g, r->connection->log, wait);

    return ngx_http_iot_answer(r, rc);
}


/* GET, PUT, DELETE /device-groups/{deviceGroupId} */

ngx_int_t
ngx_http_iot_things_group(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                              *json;
    ngx_iot_rc_e                         rc;
    ngx_iot_wait_t                      *wait;
    ngx_iot_group_t                      g;
    ngx_iot_group_change_t               ch;
    ngx_http_iot_things_group_answer_t  *ans;

    if (ngx_http_iot_things_group_ref(r, &ctx->seg[1], &g) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (r->method == NGX_HTTP_GET) {
        json = ngx_http_iot_things_group_json(&g);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
    }

    ans = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_group_answer_t));
    if (ans == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_DELETE) {
        ans->status = NGX_HTTP_NO_CONTENT;

        wait = ngx_http_iot_waiter(r, ngx_http_iot_things_group_answer, ans);
        if (wait == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_iot_group_delete((ngx_cycle_t *) ngx_cycle, g.id.key,
                                  r->connection->log, wait);

        return ngx_http_iot_answer(r, rc);
    }

    if (ngx_http_iot_things_group_fields(r, ctx->body, &ch) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (ch.collection_id != g.collection_id) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "projectId: a group stays in its project");
    }

    ans->status = NGX_HTTP_OK;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_group_answer, ans);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_iot_group_update((ngx_cycle_t *) ngx_cycle, g.id.key, &ch,
                              r->pool, &wait->out.g, r->connection->log,
                              wait);

    return ngx_http_iot_answer(r, rc);
}


/*
 * /device-groups/{id}/devices: GET (the group's devices), POST
 * {"deviceId": ...}; /device-groups/{id}/devices/{deviceId}: GET (the
 * link), DELETE (the device leaves the group).
 */

ngx_int_t
ngx_http_iot_things_members(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                              *json;
    ngx_str_t                            ref;
    ngx_iot_rc_e                         rc;
    ngx_iot_wait_t                      *wait;
    ngx_iot_group_t                      g;
    ngx_iot_member_t                     m;
    ngx_iot_device_t                     d;
    ngx_http_iot_things_group_answer_t  *ans;

    if (ngx_http_iot_things_group_ref(r, &ctx->seg[1], &g) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (!ctx->route->arg && r->method == NGX_HTTP_GET) {
        return ngx_http_iot_things_list_of(r, ctx,
                                           NGX_HTTP_IOT_THINGS_LIST_LINKS,
                                           NGX_IOT_STORE_GROUP_MEMBERS,
                                           g.id.key,
                                           ngx_http_iot_things_member_row);
    }

    /* the device: in the path, or the body's deviceId */

    if (ctx->route->arg) {
        ref = ctx->seg[3];

    } else if (ngx_http_iot_things_text(r, ctx->body, "deviceId", 1, 0, &ref)
               != NGX_OK)
    {
        return ngx_http_iot_reject(r);
    }

    if (ngx_http_iot_things_device_ref(r, &ref, &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (!ngx_http_iot_things_reaches(&ctx->who, d.collection_id, 0)) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    if (d.collection_id != g.collection_id) {
        /* a device of another project (reached or not) is no member */
        return ngx_http_iot_error(r, ctx->route->arg ? NGX_HTTP_NOT_FOUND
                                                     : NGX_HTTP_BAD_REQUEST,
                                  ctx->route->arg
                                  ? "the device is not in this group"
                                  : "deviceId: the device is not in the "
                                    "group's project");
    }

    if (r->method == NGX_HTTP_GET) {
        if (ngx_iot_member_get((ngx_cycle_t *) ngx_cycle, g.id.key, d.id.key,
                               &m)
            != NGX_IOT_OK)
        {
            return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                      "the device is not in this group");
        }

        json = ngx_http_iot_things_link_json(d.uuid, g.uuid, &m);
        if (json == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
    }

    ans = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_group_answer_t));
    if (ans == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ans->member = 1;
    ngx_memcpy(ans->device_uuid, d.uuid, NGX_IOT_UUID_SIZE);
    ngx_memcpy(ans->group_uuid, g.uuid, NGX_IOT_UUID_SIZE);

    ans->status = (r->method == NGX_HTTP_DELETE) ? NGX_HTTP_NO_CONTENT
                                                 : NGX_HTTP_CREATED;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_group_answer, ans);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_DELETE) {
        rc = ngx_iot_member_remove((ngx_cycle_t *) ngx_cycle, g.id.key,
                                   d.id.key, r->connection->log, wait);

    } else {
        rc = ngx_iot_member_add((ngx_cycle_t *) ngx_cycle, g.id.key,
                                d.id.key, ctx->who.id, &wait->out.m,
                                r->connection->log, wait);
    }

    return ngx_http_iot_answer(r, rc);
}


/* /devices/{deviceId}/device-groups[/{deviceGroupId}]: a device's links */

ngx_int_t
ngx_http_iot_things_links(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t            *json;
    ngx_iot_group_t    g;
    ngx_iot_member_t   m;
    ngx_iot_device_t   d;

    if (ngx_http_iot_things_device_ref(r, &ctx->seg[1], &d) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (!ngx_http_iot_things_reaches(&ctx->who, d.collection_id, 0)) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND, "device not found");
    }

    if (!ctx->route->arg) {
        return ngx_http_iot_things_list_of(r, ctx,
                                           NGX_HTTP_IOT_THINGS_LIST_LINKS,
                                           NGX_IOT_STORE_DEVICE_MEMBERS,
                                           d.id.key,
                                           ngx_http_iot_things_link_row);
    }

    if (ngx_http_iot_things_group_ref(r, &ctx->seg[3], &g) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (ngx_iot_member_get((ngx_cycle_t *) ngx_cycle, g.id.key, d.id.key, &m)
        != NGX_IOT_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "the device is not in this group");
    }

    json = ngx_http_iot_things_link_json(d.uuid, g.uuid, &m);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_things_send_json(r, NGX_HTTP_OK, json);
}


/*
 * {deviceGroupId}: a UUID, of a group whose project the token reaches
 * (changing needs write).  NGX_DECLINED: answered.
 */

static ngx_int_t
ngx_http_iot_things_group_ref(ngx_http_request_t *r, ngx_str_t *seg,
    ngx_iot_group_t *g)
{
    u_char               uuid[NGX_IOT_UUID_SIZE];
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    if (ngx_iot_uuid_decode(seg->data, seg->len, uuid) != NGX_OK) {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "deviceGroupId must be a UUID");
    }

    if (ngx_iot_group_get((ngx_cycle_t *) ngx_cycle, 0, uuid, r->pool, g)
        != NGX_IOT_OK
        || !ngx_http_iot_things_reaches(&ctx->who, g->collection_id,
                                        r->method != NGX_HTTP_GET))
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_NOT_FOUND,
                                    "device group not found");
    }

    return NGX_OK;
}


/* the body of POST and PUT: all of it (a full update) */

static ngx_int_t
ngx_http_iot_things_group_fields(ngx_http_request_t *r, json_t *body,
    ngx_iot_group_change_t *ch)
{
    uint64_t             team;
    ngx_str_t            s;
    ngx_http_iot_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);

    ngx_memzero(ch, sizeof(ngx_iot_group_change_t));
    ngx_memcpy(ch->by, ctx->who.id, NGX_IOT_UUID_SIZE);

    if (ngx_http_iot_things_text(r, body, "name", 1, 1, &ch->name) != NGX_OK
        || ngx_http_iot_things_text(r, body, "description", 0, 1,
                                    &ch->description)
           != NGX_OK
        || ngx_http_iot_things_text(r, body, "clientId", 1, 0, &s) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_things_client(&ctx->who, s.data, s.len, &team)
        != NGX_OK)
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "clientId: no such client");
    }

    if (ngx_http_iot_things_text(r, body, "projectId", 1, 0, &s) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_iot_things_project(r, s.data, s.len, &ch->collection_id)
        != NGX_OK
        || !ngx_http_iot_things_reaches(&ctx->who, ch->collection_id, 1))
    {
        return ngx_http_iot_invalid(r, NGX_HTTP_BAD_REQUEST,
                                    "projectId: no such project");
    }

    return ngx_http_iot_things_client_of(r, team, ch->collection_id);
}


static ngx_int_t
ngx_http_iot_things_group_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                              *json;
    ngx_http_iot_ctx_t                  *ctx;
    ngx_http_iot_things_group_answer_t  *ans;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    ans = ctx->answer_data;

    if (rc == NGX_IOT_EXISTS) {
        return ngx_http_iot_error(r, NGX_HTTP_CONFLICT,
                                  "the device is in this group already");
    }

    if (rc != NGX_IOT_OK) {
        return ngx_http_iot_things_rc_error(r, rc,
                                            ans->member
                                            ? "the device is not in this "
                                              "group"
                                            : "device group not found");
    }

    if (ans->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    json = ans->member
           ? ngx_http_iot_things_link_json(ans->device_uuid, ans->group_uuid,
                                           &ctx->wait.out.m)
           : ngx_http_iot_things_group_json(&ctx->wait.out.g);

    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_things_send_json(r, ans->status, json);
}


/* the JSON of a group and of a link */

#define ngx_http_iot_things_set(key, value)                                   \
    fail |= (json_object_set_new(o, key, value) != 0)

#define ngx_http_iot_things_set_uuid(key, uuid)                               \
    last = ngx_iot_uuid_encode(text, uuid);                                   \
    ngx_http_iot_things_set(key, json_stringn((char *) text, last - text))

#define ngx_http_iot_things_set_time(key, ms)                                 \
    last = ngx_http_iot_things_time(text, ms);                                \
    ngx_http_iot_things_set(key, json_stringn((char *) text, last - text))

#define ngx_http_iot_things_set_by(key, uuid)                                 \
    if (!ngx_iot_uuid_is_nil(uuid)) {                                         \
        last = ngx_cpymem(text, "principal/", sizeof("principal/") - 1);      \
        last = ngx_iot_uuid_encode(last, uuid);                               \
        ngx_http_iot_things_set(key, json_stringn((char *) text,              \
                                                  last - text));              \
    }


static json_t *
ngx_http_iot_things_group_json(ngx_iot_group_t *g)
{
    u_char      *last;
    u_char       text[NGX_IOT_UUID_LEN + sizeof("principal/")];
    u_char       uuid[NGX_IOT_UUID_SIZE];
    json_t      *o;
    ngx_uint_t   fail;

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    fail = 0;

    ngx_http_iot_things_set_uuid("id", g->uuid);
    ngx_http_iot_things_set("name", json_stringn((char *) g->name.data,
                                                 g->name.len));

    if (g->description.len) {
        ngx_http_iot_things_set("description",
                                json_stringn((char *) g->description.data,
                                             g->description.len));
    }

    /* the client: the team of the group's collection */
    if (ngx_iot_team_uuid_of((ngx_cycle_t *) ngx_cycle,
                             ngx_iot_collection_team((ngx_cycle_t *) ngx_cycle,
                                                     g->collection_id),
                             uuid)
        == NGX_OK)
    {
        ngx_http_iot_things_set_uuid("clientId", uuid);
    }

    if (ngx_iot_collection_uuid((ngx_cycle_t *) ngx_cycle, g->collection_id,
                                uuid)
        == NGX_IOT_OK)
    {
        ngx_http_iot_things_set_uuid("projectId", uuid);
    }

    ngx_http_iot_things_set_time("createdAt", g->created_at);
    ngx_http_iot_things_set_by("createdBy", g->created_by);
    ngx_http_iot_things_set_time("modifiedAt", g->modified_at);
    ngx_http_iot_things_set_by("modifiedBy", g->modified_by);

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


static json_t *
ngx_http_iot_things_link_json(u_char *device_uuid, u_char *group_uuid,
    ngx_iot_member_t *m)
{
    u_char      *last;
    u_char       text[NGX_IOT_UUID_LEN + sizeof("principal/")];
    json_t      *o;
    ngx_uint_t   fail;

    o = json_object();
    if (o == NULL) {
        return NULL;
    }

    fail = 0;

    ngx_http_iot_things_set_uuid("deviceId", device_uuid);
    ngx_http_iot_things_set_uuid("deviceGroupId", group_uuid);
    ngx_http_iot_things_set_time("createdAt", m->created_at);
    ngx_http_iot_things_set_by("createdBy", m->created_by);

    if (fail) {
        json_decref(o);
        return NULL;
    }

    return o;
}


#undef ngx_http_iot_things_set
#undef ngx_http_iot_things_set_uuid
#undef ngx_http_iot_things_set_time
#undef ngx_http_iot_things_set_by


/* lists */

static ngx_int_t
ngx_http_iot_things_list_of(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx,
    ngx_http_iot_things_list_e what, ngx_iot_store_kind_e kind,
    uint64_t scope, ngx_http_iot_list_row_pt row)
{
    ngx_http_iot_things_filter_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_things_filter_t));
    if (f == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f->what = what;
    f->list = (what == NGX_HTTP_IOT_THINGS_LIST_GROUPS)
              ? NGX_HTTP_IOT_THINGS_CURSOR_GROUPS
              : (kind == NGX_IOT_STORE_GROUP_MEMBERS)
                ? NGX_HTTP_IOT_THINGS_CURSOR_MEMBERS
                : NGX_HTTP_IOT_THINGS_CURSOR_LINKS;

    ctx->answer_data = f;
    if (ngx_http_iot_list_new(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->list->limit = NGX_HTTP_IOT_THINGS_LIMIT;
    ctx->list->cursor.kind = kind;
    ctx->list->cursor.scope = scope;
    ctx->list->row = row;
    ngx_str_set(&ctx->list->head, "{\"items\":[");

    if (ngx_http_iot_things_list_args(r, ctx, f) != NGX_OK) {
        return ngx_http_iot_reject(r);
    }

    if (what != NGX_HTTP_IOT_THINGS_LIST_GROUPS) {
        /* of one group or device, the token's (checked by the caller) */
        return ngx_http_iot_things_keyed(r, ctx, f);
    }

    /* groups: of projectId, or of the token's project */

    if (!ngx_http_iot_things_scope(ctx, &ctx->list->cursor.scope)) {
        f->none = 1;
    }

    return ngx_http_iot_things_keyed(r, ctx, f);
}


static ngx_uint_t
ngx_http_iot_things_times(ngx_http_iot_things_filter_t *f, uint64_t created,
    uint64_t modified)
{
    return !(((f->set & 1) && created >= f->times[0])
             || ((f->set & 2) && created < f->times[1])
             || ((f->set & 4) && modified >= f->times[2])
             || ((f->set & 8) && modified < f->times[3]));
}


/* a row's JSON into b: NGX_AGAIN when it does not fit */

static ngx_int_t
ngx_http_iot_things_put_json(ngx_buf_t *b, json_t *json)
{
    size_t  size;

    if (json == NULL) {
        return NGX_ERROR;
    }

    size = json_dumpb(json, NULL, 0, JSON_COMPACT);

    if ((size_t) (b->end - b->last) < size) {
        json_decref(json);
        return NGX_AGAIN;
    }

    b->last += json_dumpb(json, (char *) b->last, size, JSON_COMPACT);
    json_decref(json);

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_things_group_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b)
{
    ngx_iot_group_t  *g = row;

    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    f = ctx->answer_data;

    /* the filters are the store's (a keyed scan) */

    if (f->none
        || !ngx_http_iot_things_reaches(&ctx->who, g->collection_id, 0)
        || (f->team
            && ngx_iot_collection_team((ngx_cycle_t *) ngx_cycle,
                                       g->collection_id) != f->team))
    {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    return ngx_http_iot_things_put_json(b, ngx_http_iot_things_group_json(g));
}


/* a group's devices (the group's project is the token's) */

static ngx_int_t
ngx_http_iot_things_member_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b)
{
    ngx_iot_member_t  *m = row;

    ngx_iot_device_t               d;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    f = ctx->answer_data;

    if (!ngx_http_iot_things_times(f, m->created_at, m->created_at)) {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if (ngx_iot_device_get((ngx_cycle_t *) ngx_cycle, m->device_id, 0,
                           r->pool, &d)
        != NGX_IOT_OK)
    {
        /* gone since the store's row was read */
        return NGX_DECLINED;
    }

    return ngx_http_iot_things_device_put(r, &d, b, NULL);
}


/* a device's links (the device's project is the token's) */

static ngx_int_t
ngx_http_iot_things_link_row(ngx_http_request_t *r,
    ngx_http_iot_list_t *list, void *row, ngx_buf_t *b)
{
    ngx_iot_member_t  *m = row;

    u_char                         device[NGX_IOT_UUID_SIZE];
    ngx_iot_group_t                g;
    ngx_http_iot_ctx_t            *ctx;
    ngx_http_iot_things_filter_t  *f;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    f = ctx->answer_data;

    if (!ngx_http_iot_things_times(f, m->created_at, m->created_at)) {
        return NGX_DECLINED;
    }

    if (b == NULL) {
        return NGX_OK;
    }

    if (ngx_iot_group_get((ngx_cycle_t *) ngx_cycle, m->group_id, NULL,
                          r->pool, &g)
        != NGX_IOT_OK
        || ngx_iot_device_uuid((ngx_cycle_t *) ngx_cycle, m->device_id,
                               device)
           != NGX_IOT_OK)
    {
        return NGX_DECLINED;
    }

    return ngx_http_iot_things_put_json(b,
               ngx_http_iot_things_link_json(device, g.uuid, m));
}
