
/*
 * Copyright (C) nginx-iot authors
 *
 * Internet devices send data as KPN's do: POST /ingestion/ip/senml/v1, a
 * SenML pack (RFC 8428, JSON) whose base name is
 * urn:dev:DVNUUID:<dvnUuid>:, signed by the Things-Message-Token header:
 * the hex SHA-256 of the body's bytes followed by the shared secret of the
 * device's generic adapter.  A pack that passes becomes an uplink data
 * message of that device (transport http): in the history and on the
 * live streams, like a UDP uplink.  The rest is refused and counted.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "ngx_http_iot_things.h"
#include "ngx_iot_adapters.h"
#include "ngx_iot_uplink.h"


#define NGX_HTTP_IOT_THINGS_SECRET_MAX  100


static ngx_str_t  ngx_http_iot_things_token_header =
    ngx_string("Things-Message-Token");


static void ngx_http_iot_things_ingest_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_things_ingest_run(ngx_http_request_t *r);
static ngx_int_t ngx_http_iot_things_body_bytes(ngx_http_request_t *r,
    ngx_str_t *body);
static const char *ngx_http_iot_things_senml(json_t *pack, u_char *dvn);
static ngx_int_t ngx_http_iot_things_ingested(ngx_http_request_t *r,
    ngx_iot_rc_e rc);
static ngx_int_t ngx_http_iot_things_refuse(ngx_http_request_t *r,
    ngx_atomic_t *counter, ngx_uint_t status, const char *message);


ngx_int_t
ngx_http_iot_things_ingest(ngx_http_request_t *r, ngx_http_iot_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_iot_body_too_large(r)) {
        ngx_http_discard_request_body(r);
        return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "the body is larger than "
                                  "client_max_body_size");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_iot_things_ingest_body);

    if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        return ngx_http_iot_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "the body is larger than "
                                  "client_max_body_size");
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_iot_things_ingest_body(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_iot_things_ingest_run(r));
}


static ngx_int_t
ngx_http_iot_things_ingest_run(ngx_http_request_t *r)
{
    u_char               dvn[NGX_IOT_UUID_SIZE];
    u_char               secret[NGX_HTTP_IOT_THINGS_SECRET_MAX];
    u_char               digest[EVP_MAX_MD_SIZE];
    u_char               hex[2 * EVP_MAX_MD_SIZE], given[64];
    size_t               slen, i;
    json_t              *pack;
    ngx_int_t            rc;
    ngx_str_t            body, *token;
    const char          *err;
    unsigned int         n;
    EVP_MD_CTX          *md;
    ngx_iot_sh_t        *sh;
    ngx_iot_rc_e         irc;
    ngx_iot_store_t     *store;
    ngx_iot_wait_t      *wait;
    ngx_iot_device_t     d;
    ngx_iot_message_t    m;

    sh = ngx_iot_zone_ctx((ngx_cycle_t *) ngx_cycle)->sh;

    if (ngx_http_iot_things_body_bytes(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (body.len > NGX_IOT_PAYLOAD_MAX) {
        return ngx_http_iot_things_refuse(r, &sh->large,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "a message is at most 2048 bytes");
    }

    /* a SenML pack of one device */

    pack = json_loadb((char *) body.data, body.len, 0, NULL);
    err = pack ? ngx_http_iot_things_senml(pack, dvn)
               : "the body is not JSON";
    json_decref(pack);

    if (err) {
        return ngx_http_iot_things_refuse(r, &sh->malformed,
                                          NGX_HTTP_BAD_REQUEST, err);
    }

    irc = ngx_iot_device_get_adapter((ngx_cycle_t *) ngx_cycle,
                                     NGX_IOT_IDENT_DVNUUID, dvn, r->pool, &d);

    if (irc == NGX_IOT_NOT_FOUND) {
        return ngx_http_iot_things_refuse(r, &sh->unknown, NGX_HTTP_NOT_FOUND,
                                          "no device has this DVN UUID");
    }

    if (irc != NGX_IOT_OK) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the registry cannot be read");
    }

    ngx_http_iot_acted_on(r, d.collection_id, d.id.key);

    /* the signature: SHA-256 of the body, then the shared secret */

    token = ngx_http_iot_header(r, &ngx_http_iot_things_token_header);

    if (token == NULL) {
        return ngx_http_iot_things_refuse(r, &sh->refused,
                                          NGX_HTTP_UNAUTHORIZED,
                                          "a Things-Message-Token header is "
                                          "required");
    }

    store = ngx_iot_store_get((ngx_cycle_t *) ngx_cycle, r->connection->log);
    if (store == NULL) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be read");
    }

    rc = ngx_iot_store_adapter_secret(store, d.id.key,
                                      NGX_IOT_ADAPTER_GENERIC, secret,
                                      sizeof(secret), &slen,
                                      r->connection->log);

    if (rc == NGX_ERROR) {
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the store cannot be read");
    }

    if (rc == NGX_DECLINED) {
        /* no secret: nothing can sign for it */
        return ngx_http_iot_things_refuse(r, &sh->refused,
                                          NGX_HTTP_UNAUTHORIZED,
                                          "the Things-Message-Token is wrong");
    }

    md = EVP_MD_CTX_new();

    if (md == NULL
        || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(md, body.data, body.len) != 1
        || EVP_DigestUpdate(md, secret, slen) != 1
        || EVP_DigestFinal_ex(md, digest, &n) != 1)
    {
        EVP_MD_CTX_free(md);
        ngx_explicit_memzero(secret, sizeof(secret));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    EVP_MD_CTX_free(md);
    ngx_explicit_memzero(secret, sizeof(secret));

    ngx_hex_dump(hex, digest, n);

    for (i = 0; i < token->len && i < sizeof(given); i++) {
        given[i] = ngx_tolower(token->data[i]);
    }

    if (token->len != 2 * n || CRYPTO_memcmp(given, hex, 2 * n) != 0) {
        return ngx_http_iot_things_refuse(r, &sh->refused,
                                          NGX_HTTP_UNAUTHORIZED,
                                          "the Things-Message-Token is wrong");
    }

    /* an uplink of the device: the pack as it came */

    ngx_memzero(&m, sizeof(ngx_iot_message_t));
    m.transport = NGX_IOT_TRANSPORT_HTTP;
    m.payload = body;

    /* answered once the pack is in the history: a 204 is never lost */

    wait = ngx_http_iot_waiter(r, ngx_http_iot_things_ingested, NULL);

    irc = ngx_iot_uplink_durable((ngx_cycle_t *) ngx_cycle, NULL, d.id.key,
                                 &m, r->pool, r->connection->log, wait);

    return ngx_http_iot_answer(r, irc);
}


static ngx_int_t
ngx_http_iot_things_ingested(ngx_http_request_t *r, ngx_iot_rc_e rc)
{
    switch (rc) {

    case NGX_IOT_OK:
        return ngx_http_iot_send(r, NGX_HTTP_NO_CONTENT, NULL);

    case NGX_IOT_NOT_FOUND:
        return ngx_http_iot_error(r, NGX_HTTP_NOT_FOUND,
                                  "no device has this DVN UUID");

    default:
        return ngx_http_iot_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "the message cannot be stored now");
    }
}


static ngx_int_t
ngx_http_iot_things_refuse(ngx_http_request_t *r, ngx_atomic_t *counter,
    ngx_uint_t status, const char *message)
{
    (void) ngx_atomic_fetch_add(counter, 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iot ingestion refused: %s", message);

    return ngx_http_iot_error(r, status, message);
}


/* the body's bytes, in memory (a body that nginx put in a file is read) */

static ngx_int_t
ngx_http_iot_things_body_bytes(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->data = (u_char *) "";
    body->len = 0;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;
        }
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * A SenML pack (RFC 8428): a non-empty array of records (objects) whose
 * fields have their types, with the base name urn:dev:DVNUUID:<uuid>:
 * (any case) in the first record and no other base name after it.  NULL
 * and the DVN UUID in dvn, or what is wrong.
 */

static const char *
ngx_http_iot_things_senml(json_t *pack, u_char *dvn)
{
    u_char       other[NGX_IOT_UUID_SIZE];
    size_t       i, len;
    json_t      *rec, *v;
    ngx_str_t    s;
    ngx_uint_t   values;
    const char  *key;

    static const char  *strings[] = { "bn", "bu", "n", "u", "vs", "vd",
                                      NULL };
    static const char  *numbers[] = { "bt", "bv", "bs", "bver", "v", "s",
                                      "t", "ut", NULL };

    if (!json_is_array(pack) || json_array_size(pack) == 0) {
        return "the body must be a SenML pack: a JSON array of records";
    }

    json_array_foreach(pack, i, rec) {

        if (!json_is_object(rec)) {
            return "each SenML record must be a JSON object";
        }

        json_object_foreach(rec, key, v) {
            len = ngx_strlen(key);

            if (len && key[len - 1] == '_') {
                return "a SenML record has a field that must be "
                       "understood";
            }
        }

        for (len = 0; strings[len]; len++) {
            v = json_object_get(rec, strings[len]);

            if (v && !json_is_string(v)) {
                return "SenML bn, bu, n, u, vs and vd must be strings";
            }
        }

        for (len = 0; numbers[len]; len++) {
            v = json_object_get(rec, numbers[len]);

            if (v && !json_is_number(v)) {
                return "SenML bt, bv, bs, bver, v, s, t and ut must be "
                       "numbers";
            }
        }

        v = json_object_get(rec, "vb");

        if (v && !json_is_boolean(v)) {
            return "SenML vb must be true or false";
        }

        values = (json_object_get(rec, "v") != NULL)
                 + (json_object_get(rec, "vs") != NULL)
                 + (json_object_get(rec, "vb") != NULL)
                 + (json_object_get(rec, "vd") != NULL);

        if (values > 1) {
            return "a SenML record has one value at most";
        }

        v = json_object_get(rec, "bn");

        if (v == NULL) {
            if (i == 0) {
                return "the first SenML record must have the base name "
                       "urn:dev:DVNUUID:<dvnUuid>:";
            }

            continue;
        }

        s.data = (u_char *) json_string_value(v);
        s.len = json_string_length(v);

        if (s.len && s.data[s.len - 1] == ':') {
            s.len--;
        }

        if (s.len != sizeof("urn:dev:DVNUUID:") - 1 + NGX_IOT_UUID_LEN
            || ngx_strncasecmp(s.data, (u_char *) "urn:dev:DVNUUID:",
                               sizeof("urn:dev:DVNUUID:") - 1)
               != 0)
        {
            return "the SenML base name must be urn:dev:DVNUUID:<dvnUuid>:";
        }

        if (i == 0) {
            if (ngx_iot_uuid_decode(s.data + sizeof("urn:dev:DVNUUID:") - 1,
                                    NGX_IOT_UUID_LEN, dvn)
                != NGX_OK)
            {
                return "the SenML base name must be "
                       "urn:dev:DVNUUID:<dvnUuid>:";
            }

            continue;
        }

        if (ngx_iot_uuid_decode(s.data + sizeof("urn:dev:DVNUUID:") - 1,
                                NGX_IOT_UUID_LEN, other)
            != NGX_OK
            || ngx_memcmp(other, dvn, NGX_IOT_UUID_SIZE) != 0)
        {
            return "a SenML pack is of one device: one base name";
        }
    }

    return NULL;
}
