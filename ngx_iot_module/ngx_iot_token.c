
/*
 * Copyright (C) nginx-iot authors
 *
 * API tokens: 64 hex characters, of which the store keeps only the
 * SHA-256.  The admin token lives in a file that the master reads (and
 * writes at first start); its hash is all the workers keep.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "ngx_iot.h"


static const EVP_MD *ngx_iot_token_sha256(void);
static void ngx_iot_token_identify(ngx_str_t *token, u_char *hash,
    u_char *id);


void
ngx_iot_token_hash(u_char *token, size_t len, u_char *hash)
{
    unsigned int  n;

    n = NGX_IOT_HASH_LEN;

    (void) EVP_Digest(token, len, hash, &n, ngx_iot_token_sha256(), NULL);
}


/*
 * SHA-256 fetched once per process: given EVP_sha256(), OpenSSL 3 looks
 * the algorithm up again at every call, a third of what hashing a token
 * costs (and every request with a token hashes it).  Threads may race to
 * fetch it first: one keeps its fetch, the others free theirs.
 */

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
static ngx_atomic_t  ngx_iot_token_md;
#endif


static const EVP_MD *
ngx_iot_token_sha256(void)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    EVP_MD  *md;

    if (ngx_iot_token_md == 0) {
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (md == NULL) {
            return EVP_sha256();
        }

        if (!ngx_atomic_cmp_set(&ngx_iot_token_md, 0,
                                (ngx_atomic_uint_t) md))
        {
            EVP_MD_free(md);
        }
    }

    return (const EVP_MD *) ngx_iot_token_md;
#else
    return EVP_sha256();
#endif
}


/*
 * A process that exits gives the fetched digest back: the module's file
 * (and the pointer to it) is unloaded before OpenSSL cleans up.
 */

void
ngx_iot_token_release(void)
{
#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    EVP_MD  *md;

    md = (EVP_MD *) ngx_iot_token_md;
    ngx_iot_token_md = 0;

    EVP_MD_free(md);
#endif
}


static ngx_uint_t
ngx_iot_is_hex(u_char *p, size_t len)
{
    while (len--) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }

        p++;
    }

    return 1;
}


/*
 * A token is named in /tokens/{name} by itself or by its public prefix.
 * NGX_DECLINED: no such token.
 */

ngx_int_t
ngx_iot_token_find_hash(ngx_cycle_t *cycle, ngx_str_t *name, u_char *hash,
    ngx_log_t *log)
{
    ngx_int_t             rc;
    ngx_uint_t            i;
    ngx_iot_link_t       *link;
    ngx_iot_index_t      *idx;
    ngx_iot_token_t      *t;
    ngx_iot_zone_ctx_t   *ctx;

    if (!ngx_iot_is_hex(name->data, name->len)) {
        return NGX_DECLINED;
    }

    if (name->len == NGX_IOT_TOKEN_LEN) {
        ngx_iot_token_hash(name->data, name->len, hash);
        return NGX_OK;
    }

    if (name->len != NGX_IOT_TOKEN_HINT_LEN) {
        return NGX_DECLINED;
    }

    /*
     * the zone has every token: a walk of its tokens (few) costs less
     * than a statement of the store, and signed requests of the iotda
     * dialect find their access key so on every request
     */

    ctx = ngx_iot_lock_read(cycle);

    idx = &ctx->sh->tokens;
    rc = NGX_DECLINED;

    for (i = 0; rc == NGX_DECLINED && idx->buckets && i <= idx->mask; i++) {
        for (link = idx->buckets[i]; link; link = link->next) {
            t = (ngx_iot_token_t *) link;

            if (ngx_memcmp(t->hint, name->data, NGX_IOT_TOKEN_HINT_LEN)
                == 0)
            {
                ngx_memcpy(hash, t->hash, NGX_IOT_HASH_LEN);
                rc = NGX_OK;
                break;
            }
        }
    }

    ngx_iot_unlock_read(ctx);

    return rc;
}


/*
 * The principal of an API token, whichever dialect it came in: the admin
 * token reaches everything; any other has the write flag and the resource
 * it was made with, which the dialect turns into the collections it
 * reaches.  NGX_DECLINED: not a token we know.
 */

/*
 * The UUID that names a token's principal (createdBy ...): a version 8
 * UUID from a hash of the token's hash, so that it stays the same for as
 * long as the token lives and says nothing about the token itself.
 */

static void
ngx_iot_principal_id(u_char *hash, u_char *id)
{
    u_char        in[sizeof("nginx-iot principal") - 1 + NGX_IOT_HASH_LEN];
    u_char        out[NGX_IOT_HASH_LEN];
    unsigned int  n;

    ngx_memcpy(in, "nginx-iot principal", sizeof("nginx-iot principal") - 1);
    ngx_memcpy(in + sizeof("nginx-iot principal") - 1, hash,
               NGX_IOT_HASH_LEN);

    n = NGX_IOT_HASH_LEN;
    (void) EVP_Digest(in, sizeof(in), out, &n, ngx_iot_token_sha256(),
                      NULL);

    ngx_memcpy(id, out, NGX_IOT_UUID_SIZE);
    id[6] = (id[6] & 0x0f) | 0x80;
    id[8] = (id[8] & 0x3f) | 0x80;
}


/*
 * The last tokens this worker was given, with their hashes and principal
 * ids: a client sends its token again and again, and hashing it twice is
 * most of what authenticating costs.  Only what follows from the token
 * alone is kept; whether it is valid is asked of the zone every time, so
 * a token revoked is refused at once.  Tokens are compared in constant
 * time, as their hashes are.
 */

#define NGX_IOT_TOKENS_SEEN     16
#define NGX_IOT_TOKEN_SEEN_MAX  128

typedef struct {
    size_t                     len;
    u_char                     token[NGX_IOT_TOKEN_SEEN_MAX];
    u_char                     hash[NGX_IOT_HASH_LEN];
    u_char                     id[NGX_IOT_UUID_SIZE];
} ngx_iot_token_seen_t;


static ngx_iot_token_seen_t  ngx_iot_tokens_seen[NGX_IOT_TOKENS_SEEN];
static ngx_uint_t            ngx_iot_tokens_seen_next;


static void
ngx_iot_token_identify(ngx_str_t *token, u_char *hash, u_char *id)
{
    ngx_uint_t             i;
    ngx_iot_token_seen_t  *t;

    if (token->len > NGX_IOT_TOKEN_SEEN_MAX) {
        ngx_iot_token_hash(token->data, token->len, hash);
        ngx_iot_principal_id(hash, id);
        return;
    }

    for (i = 0; i < NGX_IOT_TOKENS_SEEN; i++) {
        t = &ngx_iot_tokens_seen[i];

        if (t->len == token->len
            && CRYPTO_memcmp(t->token, token->data, token->len) == 0)
        {
            ngx_memcpy(hash, t->hash, NGX_IOT_HASH_LEN);
            ngx_memcpy(id, t->id, NGX_IOT_UUID_SIZE);
            return;
        }
    }

    ngx_iot_token_hash(token->data, token->len, hash);
    ngx_iot_principal_id(hash, id);

    t = &ngx_iot_tokens_seen[ngx_iot_tokens_seen_next];
    ngx_iot_tokens_seen_next = (ngx_iot_tokens_seen_next + 1)
                               % NGX_IOT_TOKENS_SEEN;

    t->len = token->len;
    ngx_memcpy(t->token, token->data, token->len);
    ngx_memcpy(t->hash, hash, NGX_IOT_HASH_LEN);
    ngx_memcpy(t->id, id, NGX_IOT_UUID_SIZE);
}


ngx_int_t
ngx_iot_authenticate(ngx_cycle_t *cycle, ngx_str_t *token, ngx_pool_t *pool,
    ngx_iot_principal_t *who)
{
    u_char           hash[NGX_IOT_HASH_LEN];
    ngx_iot_conf_t  *conf;

    ngx_memzero(who, sizeof(ngx_iot_principal_t));

    if (token->len == 0 || token->len > 256) {
        return NGX_DECLINED;
    }

    /* event loop only: the tokens seen are the worker's */
    ngx_iot_token_identify(token, hash, who->id);

    conf = ngx_iot_get_conf(cycle);

    if (conf->admin_set
        && CRYPTO_memcmp(hash, conf->admin_hash, NGX_IOT_HASH_LEN) == 0)
    {
        who->admin = 1;
        who->write = 1;
        who->all = 1;
        ngx_memcpy(who->hash, hash, NGX_IOT_HASH_LEN);

        /* it acts for the installation's first user where a user is meant */
        who->user_id = ngx_iot_first_user(cycle);
        who->team_id = ngx_iot_team_id(cycle);

        return ngx_iot_auth_teams(cycle, who, pool);
    }

    return ngx_iot_token_principal(cycle, hash, pool, who);
}


/* read the admin token file, or make it at first start */

ngx_int_t
ngx_iot_admin_token_load(ngx_cycle_t *cycle, ngx_iot_conf_t *conf)
{
    u_char           raw[NGX_IOT_TOKEN_LEN / 2];
    u_char           buf[NGX_IOT_TOKEN_LEN + 2];
    u_char          *p, *last;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_info_t  fi;

    fd = ngx_open_file(conf->token_path.data, NGX_FILE_RDONLY,
                       NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE && ngx_errno == NGX_ENOENT
        && ngx_process != NGX_PROCESS_SIGNALLER && !ngx_test_config)
    {
        if (ngx_iot_random(raw, sizeof(raw)) != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                               "getrandom() failed");
            return NGX_ERROR;
        }

        ngx_hex_dump(buf, raw, sizeof(raw));
        buf[NGX_IOT_TOKEN_LEN] = '\n';
        ngx_explicit_memzero(raw, sizeof(raw));

        fd = ngx_open_file(conf->token_path.data, NGX_FILE_WRONLY,
                           NGX_FILE_CREATE_OR_OPEN, 0600);

        if (fd == NGX_INVALID_FILE
            || ngx_write_fd(fd, buf, NGX_IOT_TOKEN_LEN + 1)
               != NGX_IOT_TOKEN_LEN + 1)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                               "cannot write the admin token to \"%V\"",
                               &conf->token_path);
            if (fd != NGX_INVALID_FILE) {
                (void) ngx_close_file(fd);
                (void) ngx_delete_file(conf->token_path.data);
            }
            return NGX_ERROR;
        }

        (void) ngx_close_file(fd);

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                           "iot: a new admin token was written to \"%V\"",
                           &conf->token_path);

        ngx_iot_token_hash(buf, NGX_IOT_TOKEN_LEN, conf->admin_hash);
        ngx_explicit_memzero(buf, sizeof(buf));
        conf->admin_set = 1;

        return NGX_OK;
    }

    if (fd == NGX_INVALID_FILE) {
        if (ngx_process == NGX_PROCESS_SIGNALLER || ngx_test_config) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                           "cannot open the admin token file \"%V\"",
                           &conf->token_path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && (ngx_file_access(&fi) & 0077))
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                           "the admin token file \"%V\" can be read by "
                           "others: chmod 600 it", &conf->token_path);
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    (void) ngx_close_file(fd);

    if (n <= 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                           "the admin token file \"%V\" is empty",
                           &conf->token_path);
        return NGX_ERROR;
    }

    p = buf;
    last = buf + n;

    while (last > p && (last[-1] == '\n' || last[-1] == '\r'
                        || last[-1] == ' '))
    {
        last--;
    }

    if (last - p < 16 || (size_t) (last - p) > NGX_IOT_TOKEN_LEN) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                           "the admin token in \"%V\" must be 16 to 64 "
                           "characters long", &conf->token_path);
        return NGX_ERROR;
    }

    ngx_iot_token_hash(p, last - p, conf->admin_hash);
    ngx_explicit_memzero(buf, sizeof(buf));
    conf->admin_set = 1;

    return NGX_OK;
}
