// A request of the iotda dialect made by the Huawei Cloud SDK core
// (@huaweicloud/huaweicloud-sdk-core), which signs it exactly as the IoTDA
// client does (IoTDAClient.newBuilder: withDerivedAuthServiceName('iotdm')).
//
//   node t/npm/iotda-sdk.js ENDPOINT AK SK PROJECT METHOD URL [QUERY [BODY]]
//
// URL is the path with {project_id}; QUERY a JSON object of query
// parameters; BODY a JSON value.  Prints one JSON line: {"status":N,
// "body":{...}} or {"status":N,"error_code":...,"error_msg":...,
// "request_id":...}, after "iotda-sdk-result " (the core logs to
// standard output too).  Needs HOME set to a writable folder (the core
// writes ~/.huaweicloud/application_id).

'use strict';

const core = require('@huaweicloud/huaweicloud-sdk-core');
const { ClientBuilder } =
    require('@huaweicloud/huaweicloud-sdk-core/ClientBuilder');

async function main() {
    const [endpoint, ak, sk, project, method, url, query, body] =
        process.argv.slice(2);

    const credentials = new core.BasicCredentials()
        .withAk(ak).withSk(sk).withProjectId(project);

    const client = new ClientBuilder((c) => c)
            .withCredential(credentials)
            .withEndpoint(endpoint)
            .withDerivedAuthServiceName('iotdm')
            .build();

    const options = {
        method: method,
        url: url,
        contentType: 'application/json',
        queryParams: query ? JSON.parse(query) : {},
        pathParams: { project_id: project },
        headers: {},
    };

    if (body !== undefined) {
        options.data = JSON.parse(body);
    }

    try {
        const res = await client.sendRequest(options);
        const status = res.httpStatusCode;
        delete res.httpStatusCode;
        console.log('iotda-sdk-result '
                    + JSON.stringify({ status: status, body: res }));
    } catch (e) {
        console.log('iotda-sdk-result ' + JSON.stringify({
            status: e.httpStatusCode || e.status || 0,
            error_code: e.errorCode,
            error_msg: e.errorMsg || String(e.message || e),
            request_id: e.requestId,
        }));
    }
}

main();
