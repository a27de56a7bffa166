
/*
 * Copyright (C) nginx-iot authors
 *
 * Access keys made like Huawei IAM's permanent access keys
 * (/v3.0/OS-CREDENTIAL/credentials): an AK/SK pair bound to a team, that
 * may write or only read, made, listed, shown and deleted by the
 * administrator.  The SK is answered once, when the key is made; the
 * store keeps it (mode 0600) to check signatures with, and it is read
 * back only for that (docs/iotda.md, "Access keys").
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/sha.h>
#include "ngx_http_iot_iotda.h"
#include "ngx_iot_write.h"
#include "ngx_iot_store_iotda.h"


#define NGX_HTTP_IOT_IOTDA_DESCRIPTION_MAX  255


/* one write of an access key */
typedef struct {
    ngx_iot_write_t                w;
    ngx_iot_store_access_key_t     k;
    ngx_uint_t                     deleted;
    ngx_uint_t                     create;
    ngx_iot_wait_t                *wait;
    ngx_str_t                      user_id;   /* as given */
} ngx_http_iot_iotda_key_op_t;


/* a lookup for a signature */
typedef struct {
    ngx_iot_store_access_key_t     k;
    u_char                        *sk;
    size_t                         sk_max;
    size_t                         sk_len;
} ngx_http_iot_iotda_key_find_t;


/* what a list collects */
typedef struct {
    ngx_http_request_t            *r;
    json_t                        *out;       /* an array, or NULL: one */
    json_t                        *one;
} ngx_http_iot_iotda_key_list_t;


static ngx_int_t ngx_http_iot_iotda_key_create(ngx_http_request_t *r,
    ngx_http_iot_ctx_t *ctx);
static ngx_int_t ngx_http_iot_iotda_key_run(ngx_http_request_t *r,
    ngx_http_iot_iotda_key_op_t *op);
static ngx_iot_rc_e ngx_http_iot_iotda_key_nothing(ngx_iot_write_t *w);
static ngx_int_t ngx_http_iot_iotda_key_store(ngx_iot_write_t *w);
static ngx_iot_rc_e ngx_http_iot_iotda_key_apply(ngx_iot_write_t *w);
static void ngx_http_iot_iotda_key_done(ngx_iot_write_t *w);
static ngx_int_t ngx_http_iot_iotda_key_answer(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static json_t *ngx_http_iot_iotda_key_json(ngx_iot_store_access_key_t *k);
static ngx_int_t ngx_http_iot_iotda_key_row(void *row, void *data);
static ngx_int_t ngx_http_iot_iotda_key_found(void *row, void *data);
static ngx_int_t ngx_http_iot_iotda_key_random(u_char *p, size_t n,
    const char *alphabet, size_t size);
static void ngx_http_iot_iotda_key_cleanup(void *data);


static ngx_str_t  ngx_http_iot_iotda_iam_path =
    ngx_string("/v3.0/OS-CREDENTIAL/credentials");


/*
 * Is this a path of the credentials endpoint: 1 for /v3.0/OS-CREDENTIAL/
 * credentials, 2 with one more segment (an access key), else 0.
 * Wherever the location is: the path is IAM's, which clients know.
 */

ngx_uint_t
ngx_http_iot_iotda_iam(ngx_http_request_t *r)
{
    u_char     *p, *last;
    ngx_str_t  *prefix;

    prefix = &ngx_http_iot_iotda_iam_path;

    if (r->uri.len < prefix->len
        || ngx_strncmp(r->uri.data, prefix->data, prefix->len) != 0)
    {
        return 0;
    }

    p = r->uri.data + prefix->len;
    last = r->uri.data + r->uri.len;

    if (p == last) {
        return 1;
    }

    if (*p++ != '/' || p == last) {
        return 0;
    }

    return (ngx_strlchr(p, last, '/') == NULL) ? 2 : 0;
}


/* an access key of this kind: 20 of A-Z 0-9, as IAM makes them */

ngx_uint_t
ngx_http_iot_iotda_iam_ak(ngx_str_t *ak)
{
    ngx_uint_t  i;

    if (ak->len != NGX_HTTP_IOT_IOTDA_AK_LEN) {
        return 0;
    }

    for (i = 0; i < ak->len; i++) {
        if (!((ak->data[i] >= 'A' && ak->data[i] <= 'Z')
              || (ak->data[i] >= '0' && ak->data[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The principal of an access key, its team, and (sk not NULL) its secret
 * copied into sk (at most sk_max bytes, its length in *sk_len): NGX_OK,
 * NGX_DECLINED (no such key), NGX_ERROR (the store cannot be read).
 */

ngx_int_t
ngx_http_iot_iotda_access_key(ngx_http_request_t *r, ngx_str_t *ak,
    ngx_iot_principal_t *who, uint64_t *team_id, u_char *sk, size_t sk_max,
    size_t *sk_len)
{
    ngx_int_t                       rc;
    ngx_iot_store_t                *store;
    ngx_http_iot_iotda_key_find_t   f;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_http_iot_iotda_key_find_t));
    f.sk = sk;
    f.sk_max = sk_max;

    rc = ngx_iot_store_access_key_find(store, ak,
                                       ngx_http_iot_iotda_key_found, &f,
                                       r->connection->log);
    if (rc != NGX_OK) {
        return rc;
    }

    if (who) {
        ngx_memzero(who, sizeof(ngx_iot_principal_t));
        who->write = f.k.write;
        who->all = 1;
        ngx_str_set(&who->resource, "/");

        /* its streams are counted by a digest of its access key */
        (void) SHA256(ak->data, ak->len, who->hash);
    }

    if (team_id) {
        *team_id = f.k.team_id;
    }

    if (sk_len) {
        *sk_len = f.sk_len;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_iotda_key_found(void *row, void *data)
{
    ngx_iot_store_access_key_t     *k = row;
    ngx_http_iot_iotda_key_find_t  *f = data;

    f->k.team_id = k->team_id;
    f->k.write = k->write;

    if (f->sk) {
        if (k->sk.len > f->sk_max) {
            return NGX_ERROR;
        }

        ngx_memcpy(f->sk, k->sk.data, k->sk.len);
        f->sk_len = k->sk.len;
    }

    return NGX_DONE;
}


/* POST, GET /v3.0/OS-CREDENTIAL/credentials */

ngx_int_t
ngx_http_iot_iotda_keys(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                         *o, *list;
    ngx_str_t                       user_id;
    uint64_t                        team_id;
    ngx_iot_store_t                *store;
    ngx_pool_cleanup_t             *cln;
    ngx_http_iot_iotda_key_list_t   all;

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_iot_iotda_key_create(r, ctx);
    }

    /* ?user_id=: the keys of that team (the only team, today) */

    team_id = ngx_iot_team_id((ngx_cycle_t *) ngx_cycle);

    if (ngx_http_arg(r, (u_char *) "user_id", sizeof("user_id") - 1,
                     &user_id)
        == NGX_OK
        && ngx_http_iot_iotda_project(&user_id, &team_id) != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IAM.0004 the user (user_id) does not "
                                  "exist");
    }

    list = json_array();
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (list == NULL || cln == NULL) {
        json_decref(list);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_iot_iotda_key_cleanup;
    cln->data = list;

    ngx_memzero(&all, sizeof(ngx_http_iot_iotda_key_list_t));
    all.r = r;
    all.out = list;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    if (store == NULL
        || ngx_iot_store_access_keys(store, team_id,
                                     ngx_http_iot_iotda_key_row, &all,
                                     r->connection->log)
           != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the access keys cannot be "
                                  "read now");
    }

    o = json_pack("{s:O}", "credentials", list);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, o);
}


/* GET, DELETE /v3.0/OS-CREDENTIAL/credentials/{access_key} */

ngx_int_t
ngx_http_iot_iotda_key(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    json_t                         *o;
    ngx_int_t                       rc;
    ngx_str_t                      *ak;
    ngx_iot_store_t                *store;
    ngx_http_iot_iotda_key_op_t    *op;
    ngx_http_iot_iotda_key_list_t   one;

    ak = &ctx->seg[ctx->nseg - 1];

    if (!ngx_http_iot_iotda_iam_ak(ak)) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IAM.0004 the access key does not exist");
    }

    if (r->method == NGX_HTTP_DELETE) {
        op = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_key_op_t));
        if (op == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        op->k.ak = *ak;

        return ngx_http_iot_iotda_key_run(r, op);
    }

    ngx_memzero(&one, sizeof(ngx_http_iot_iotda_key_list_t));
    one.r = r;

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);

    rc = (store == NULL)
         ? NGX_ERROR
         : ngx_iot_store_access_key_find(store, ak,
                                         ngx_http_iot_iotda_key_row, &one,
                                         r->connection->log);

    if (rc == NGX_DECLINED) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IAM.0004 the access key does not exist");
    }

    if (rc != NGX_OK || one.one == NULL) {
        json_decref(one.one);
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "IOTDA.000003 the access key cannot be "
                                  "read now");
    }

    o = json_pack("{s:o}", "credential", one.one);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_iot_iotda_send_json(r, NGX_HTTP_OK, o);
}


/*
 * {"credential":{"user_id":..., "description":..., "write":...}}: user_id
 * is the project (team) the key is bound to; write (this server's) false
 * makes a read-only key.
 */

static ngx_int_t
ngx_http_iot_iotda_key_create(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    u_char                       *ak, *sk;
    json_t                       *cred, *v;
    ngx_http_iot_iotda_key_op_t  *op;

    static const char  upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char  mixed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789";

    op = ngx_pcalloc(r->pool, sizeof(ngx_http_iot_iotda_key_op_t));
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cred = json_object_get(ctx->body, "credential");

    if (cred == NULL || !json_is_object(cred)) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IAM.0011 credential is required: an "
                                  "object");
    }

    v = json_object_get(cred, "user_id");

    if (v == NULL || !json_is_string(v) || json_string_length(v) == 0) {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IAM.0011 credential.user_id is required: "
                                  "the project the key is bound to");
    }

    op->user_id.data = (u_char *) json_string_value(v);
    op->user_id.len = json_string_length(v);

    if (ngx_http_iot_iotda_project(&op->user_id, &op->k.team_id) != NGX_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IAM.0004 the user (user_id) does not "
                                  "exist");
    }

    v = json_object_get(cred, "description");

    if (v && json_is_string(v) && json_string_length(v) == 0) {
        /* an empty description is none */
        (void) json_object_del(cred, "description");
    }

    if (ngx_http_iot_iotda_text(r, cred, "description", 0,
                                NGX_HTTP_IOT_IOTDA_DESCRIPTION_MAX, 0,
                                &op->k.description)
        != NGX_OK)
    {
        return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                  "IAM.0011 credential.description: at "
                                  "most 255 characters, no control "
                                  "characters");
    }

    op->k.write = 1;
    v = json_object_get(cred, "write");

    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            return ngx_http_iot_error(r, NGX_HTTP_BAD_REQUEST,
                                      "IAM.0011 credential.write must be "
                                      "true or false");
        }

        op->k.write = json_is_true(v);
    }

    ak = ngx_pnalloc(r->pool, NGX_HTTP_IOT_IOTDA_AK_LEN);
    sk = ngx_pnalloc(r->pool, NGX_HTTP_IOT_IOTDA_SK_LEN);
    if (ak == NULL || sk == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_iot_iotda_key_random(ak, NGX_HTTP_IOT_IOTDA_AK_LEN, upper,
                                      sizeof(upper) - 1)
        != NGX_OK
        || ngx_http_iot_iotda_key_random(sk, NGX_HTTP_IOT_IOTDA_SK_LEN,
                                         mixed, sizeof(mixed) - 1)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->create = 1;
    op->k.ak.data = ak;
    op->k.ak.len = NGX_HTTP_IOT_IOTDA_AK_LEN;
    op->k.sk.data = sk;
    op->k.sk.len = NGX_HTTP_IOT_IOTDA_SK_LEN;
    op->k.created_at = ngx_iot_now_ms();

    return ngx_http_iot_iotda_key_run(r, op);
}


/* n characters of the alphabet, each as likely as the others */

static ngx_int_t
ngx_http_iot_iotda_key_random(u_char *p, size_t n, const char *alphabet,
    size_t size)
{
    u_char   buf[64];
    size_t   i, k, limit;

    limit = 256 - 256 % size;
    k = sizeof(buf);

    for (i = 0; i < n; /* void */) {
        if (k == sizeof(buf)) {
            if (ngx_iot_random(buf, sizeof(buf)) != NGX_OK) {
                return NGX_ERROR;
            }

            k = 0;
        }

        if (buf[k] < limit) {
            p[i++] = alphabet[buf[k] % size];
        }

        k++;
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    return NGX_OK;
}


static ngx_int_t
ngx_http_iot_iotda_key_run(ngx_http_request_t *r,
    ngx_http_iot_iotda_key_op_t *op)
{
    ngx_iot_rc_e     rc;
    ngx_iot_wait_t  *wait;

    wait = ngx_http_iot_waiter(r, ngx_http_iot_iotda_key_answer, op);
    if (wait == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op->wait = wait;
    op->w.check = ngx_http_iot_iotda_key_nothing;
    op->w.write = ngx_http_iot_iotda_key_store;
    op->w.apply = ngx_http_iot_iotda_key_apply;
    op->w.data = op;
    op->w.pool = r->pool;
    op->w.log = r->connection->log;
    op->w.done = ngx_http_iot_iotda_key_done;
    op->w.done_data = op;

    rc = ngx_iot_write_post((ngx_cycle_t *) ngx_cycle, &op->w);

    return ngx_http_iot_answer(r, rc);
}


/* access keys are in the store only: the zone has no part in them */

static ngx_iot_rc_e
ngx_http_iot_iotda_key_nothing(ngx_iot_write_t *w)
{
    return NGX_IOT_OK;
}


static ngx_int_t
ngx_http_iot_iotda_key_store(ngx_iot_write_t *w)
{
    ngx_http_iot_iotda_key_op_t  *op = w->data;

    if (op->create) {
        return ngx_iot_store_access_key_put(w->store, &op->k, w->log);
    }

    return ngx_iot_store_access_key_delete(w->store, &op->k.ak,
                                           &op->deleted, w->log);
}


static ngx_iot_rc_e
ngx_http_iot_iotda_key_apply(ngx_iot_write_t *w)
{
    ngx_http_iot_iotda_key_op_t  *op = w->data;

    return (op->create || op->deleted) ? NGX_IOT_OK : NGX_IOT_NOT_FOUND;
}


static void
ngx_http_iot_iotda_key_done(ngx_iot_write_t *w)
{
    ngx_http_iot_iotda_key_op_t  *op = w->done_data;

    op->wait->rc = w->rc;
    op->wait->handler(op->wait);
}


/* 201 with the secret, once; 204 for a deletion */

static ngx_int_t
ngx_http_iot_iotda_key_answer(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    json_t                       *o, *cred;
    ngx_int_t                     sent;
    ngx_http_iot_ctx_t           *ctx;
    ngx_http_iot_iotda_key_op_t  *op;

    ctx = ngx_http_get_module_ctx(r, ngx_http_iot_module);
    op = ctx->answer_data;

    if (rc == NGX_IOT_NOT_FOUND) {
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "IAM.0004 the access key does not exist");
    }

    if (rc != NGX_IOT_OK) {
        if (op->create) {
            ngx_explicit_memzero(op->k.sk.data, op->k.sk.len);
        }

        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  (rc == NGX_IOT_RETIRED)
                                  ? "IOTDA.000003 nginx is reloading: try "
                                    "again"
                                  : "IOTDA.000003 the store cannot be "
                                    "written: nothing was changed");
    }

    if (!op->create) {
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);
    }

    cred = ngx_http_iot_iotda_key_json(&op->k);

    if (cred == NULL
        || json_object_set_new(cred, "secret",
                               json_stringn((char *) op->k.sk.data,
                                            op->k.sk.len))
           != 0)
    {
        json_decref(cred);
        ngx_explicit_memzero(op->k.sk.data, op->k.sk.len);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_explicit_memzero(op->k.sk.data, op->k.sk.len);

    o = json_pack("{s:o}", "credential", cred);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sent = ngx_http_iot_iotda_send_json(r, NGX_HTTP_CREATED, o);

    return sent;
}


/* a key as IAM shows it (never its secret), and write */

static json_t *
ngx_http_iot_iotda_key_json(ngx_iot_store_access_key_t *k)
{
    u_char     project[2 * NGX_IOT_UUID_SIZE];
    u_char     created[sizeof("yyyy-mm-ddThh:mm:ss.000000Z")];
    ngx_tm_t   tm;

    ngx_gmtime((time_t) (k->created_at / 1000), &tm);

    (void) ngx_sprintf(created, "%4d-%02d-%02dT%02d:%02d:%02d.%03ui000Z",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                       (ngx_uint_t) (k->created_at % 1000));

    ngx_http_iot_iotda_project_id(k->team_id, project);

    return json_pack("{s:s%,s:s%,s:s,s:s%,s:s%,s:b}",
                     "user_id", (char *) project, sizeof(project),
                     "access", (char *) k->ak.data, k->ak.len,
                     "status", "active",
                     "create_time", (char *) created, sizeof(created) - 1,
                     "description",
                     k->description.len ? (char *) k->description.data : "",
                     k->description.len,
                     "write", (int) k->write);
}


static ngx_int_t
ngx_http_iot_iotda_key_row(void *row, void *data)
{
    ngx_iot_store_access_key_t     *k = row;
    ngx_http_iot_iotda_key_list_t  *all = data;

    json_t  *o;

    o = ngx_http_iot_iotda_key_json(k);
    if (o == NULL) {
        return NGX_ERROR;
    }

    if (all->out == NULL) {
        all->one = o;
        return NGX_DONE;
    }

    return (json_array_append_new(all->out, o) == 0) ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_iot_iotda_key_cleanup(void *data)
{
    json_decref(data);
}
