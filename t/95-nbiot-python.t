#!/usr/bin/perl
# nbiot-python's own test suite (t/clients/nbiot-python, unmodified), run
# with Debian's pytest against the collections dialect.  The client builds
# its WebSocket address from the API address without a port, so the API is
# offered on port 443 of a loopback address of its own, through a server
# of the same nginx that terminates TLS with a certificate made for the
# run and proxies to the API; the client trusts that certificate through
# SSL_CERT_FILE and REQUESTS_CA_BUNDLE.  CI=true turns on its downstream
# test.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use IoT::Test;

my $PY = '/usr/bin/python3';
plan skip_all => 'port 443 needs root' unless $> == 0;
plan skip_all => 'openssl is not installed' unless -x '/usr/bin/openssl';
plan skip_all => 'Debian python3-pytest and friends are not installed'
    unless system($PY, '-c', 'import pytest, pytest_asyncio, websockets,'
                  . ' requests') == 0;

# a loopback address of its own, so that two runs do not meet on 443
my $host = join '.', 127, 10 + int(rand(200)), int(rand(250)) + 1,
                     int(rand(250)) + 1;

my $tmp = tempdir('iot-nbiot-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
system('sh', '-c', 'exec "$@" 2>/dev/null', 'openssl', 'openssl',
       'req', '-x509', '-newkey', 'ec', '-pkeyopt',
       'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
       '-subj', "/CN=$host", '-addext', "subjectAltName=IP:$host",
       '-keyout', "$tmp/key.pem", '-out', "$tmp/cert.pem") == 0
    or die "openssl req failed\n";

my $api = IoT::Test::free_port('tcp');
my $up = IoT::Test::free_port('udp');
my $t = IoT::Test->new(port => $api,
    stream_conf => "    server { listen 127.0.0.1:$up udp; iot_uplink; }\n",
    http_conf => <<"EOF");
    map \$http_upgrade \$nbiot_connection { default upgrade; '' close; }
    server {
        listen $host:443 ssl;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;
        location / {
            proxy_pass http://127.0.0.1:$api;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$nbiot_connection;
            proxy_read_timeout 1h;
        }
    }
EOF
$t->start;

my $home = tempdir('iot-nbiot-home-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my @tests = qw(test_config test_client test_system_defaults test_teams
               test_collections test_devices test_outputs
               test_output_stream test_downstream);

my $out;
{
    local %ENV = (%ENV,
        HOME                    => $home,
        CI                      => 'true',
        TELENOR_NBIOT_ADDRESS   => "https://$host",
        TELENOR_NBIOT_TOKEN     => $t->admin_token,
        SSL_CERT_FILE           => "$tmp/cert.pem",
        REQUESTS_CA_BUNDLE      => "$tmp/cert.pem",
        PYTHONDONTWRITEBYTECODE => 1,
    );
    $out = `cd t/clients/nbiot-python && $PY -m pytest -v \\
            -p no:cacheprovider nbiot/nbiot_test.py 2>&1`;
}
my $status = $? >> 8;

for my $name (@tests) {
    like($out, qr/::\Q$name\E PASSED/, "nbiot-python: $name");
}
is($status, 0, 'pytest: every test of the suite passed') or diag($out);

$t->check_log('nbiot-python');
$t->finish;
done_testing;
