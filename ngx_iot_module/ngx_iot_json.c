
/*
 * Copyright (C) nginx-iot authors
 *
 * Tags, kept as the text of a compact JSON object of strings: checks,
 * merges and look-ups for every dialect.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_iot.h"


ngx_int_t
ngx_iot_tags_check(json_t *tags, const char **err)
{
    size_t       len;
    json_t      *value;
    const char  *name;

    if (!json_is_object(tags)) {
        *err = "tags must be an object of strings";
        return NGX_ERROR;
    }

    json_object_foreach(tags, name, value) {
        len = ngx_strlen(name);

        if (len == 0 || len > NGX_IOT_TAG_NAME_MAX) {
            *err = "tag names must be 1 to 64 bytes long";
            return NGX_ERROR;
        }

        if (json_is_null(value)) {
            continue;
        }

        if (!json_is_string(value)) {
            *err = "tag values must be strings";
            return NGX_ERROR;
        }

        if (json_string_length(value) > NGX_IOT_TAG_VALUE_MAX) {
            *err = "tag values must be at most 1024 bytes long";
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Applies a checked patch to the current tags: a string sets a tag,
 * an empty string or null removes it.
 */

ngx_iot_rc_e
ngx_iot_tags_merge(ngx_iot_text_t *cur, json_t *patch, ngx_pool_t *pool,
    ngx_str_t *out)
{
    char        *text;
    json_t      *tags, *value;
    const char  *name;

    if (cur->len) {
        tags = json_loadb((char *) cur->data, cur->len, 0, NULL);

    } else {
        tags = json_object();
    }

    if (tags == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    json_object_foreach(patch, name, value) {
        if (json_is_null(value) || json_string_length(value) == 0) {
            json_object_del(tags, name);
            continue;
        }

        if (json_object_set(tags, name, value) != 0) {
            json_decref(tags);
            return NGX_IOT_STORE_ERROR;
        }
    }

    if (json_object_size(tags) > NGX_IOT_TAGS_MAX) {
        json_decref(tags);
        return NGX_IOT_TOO_MANY_TAGS;
    }

    text = json_dumps(tags, JSON_COMPACT);
    json_decref(tags);

    if (text == NULL) {
        return NGX_IOT_STORE_ERROR;
    }

    out->len = ngx_strlen(text);

    if (out->len > NGX_IOT_TAGS_TEXT_MAX) {
        free(text);
        return NGX_IOT_TOO_MANY_TAGS;
    }

    out->data = ngx_pnalloc(pool, out->len);

    if (out->data == NULL) {
        free(text);
        return NGX_IOT_STORE_ERROR;
    }

    ngx_memcpy(out->data, text, out->len);
    free(text);

    return NGX_IOT_OK;
}


/* NGX_DECLINED: no such tag */

ngx_int_t
ngx_iot_tags_get(ngx_iot_text_t *tags, ngx_str_t *name, ngx_pool_t *pool,
    ngx_str_t *value)
{
    u_char  *key;
    json_t  *obj, *v;

    if (tags->len == 0) {
        return NGX_DECLINED;
    }

    obj = json_loadb((char *) tags->data, tags->len, 0, NULL);
    if (obj == NULL) {
        return NGX_ERROR;
    }

    key = ngx_pnalloc(pool, name->len + 1);
    if (key == NULL) {
        json_decref(obj);
        return NGX_ERROR;
    }

    ngx_cpystrn(key, name->data, name->len + 1);

    v = json_object_get(obj, (char *) key);

    if (v == NULL || !json_is_string(v)) {
        json_decref(obj);
        return NGX_DECLINED;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len);

    if (value->data == NULL) {
        json_decref(obj);
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len);
    json_decref(obj);

    return NGX_OK;
}
