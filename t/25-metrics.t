#!/usr/bin/perl

# The Prometheus endpoint (iot_metrics, docs/metrics.md): scraped and read
# with a strict reader of the text format (t/lib/IoT/Metrics.pm) and with
# Prometheus' own Python parser where it is installed; its values move
# with real traffic: devices made, RADIUS requests good and bad, UDP
# uplinks of an attached device and datagrams dropped, a WebSocket stream
# opened and closed and one refused for its token's limit, an iotda
# signature refused, downlinks sent and failed; each worker's values under
# its pid, a killed worker's gone and its successor's there.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Things;
use Digest::SHA qw(sha256_hex);
use IoT::Metrics;
use IoT::WebSocket;
use IoT::Radius qw(radclient packet imsi exchange udp_socket);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'metrics-secret';
my $radius = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(
    workers => 2,
    location => $IoT::Iotda::LOCATIONS,
    http_conf => "iot_ws_streams_per_token 1;\n",
    server_conf => "location = /metrics { iot_metrics; "
                 . "allow 127.0.0.1; deny all; }\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$radius udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $last_text;

# one scrape, read strictly: the families, or a failed test
sub scrape {
    my ($st, $h, $body) = $t->http(GET => '/metrics');
    is($st, 200, 'GET /metrics: 200') or return {};
    $last_text = $body;
    my ($m, $err) = IoT::Metrics::parse($body);
    ok(!$err, 'the text format holds') or diag("$err\n$body");
    return $m // {};
}

sub v {
    my ($m, $name, %l) = @_;
    return IoT::Metrics::value($m, $name, \%l);
}

# wait until the scraped value of a series is $want
sub wait_value {
    my ($want, $name, %l) = @_;
    my $got;
    IoT::Test::wait_until(sub {
        my ($st, $h, $body) = $t->http(GET => '/metrics');
        my ($m) = IoT::Metrics::parse($body);
        $got = $m ? IoT::Metrics::value($m, $name, \%l) : undef;
        return defined $got && $got == $want;
    }, 10);
    return $got;
}

# ------------------------------------------------------------ the format

my ($st, $h, $body) = $t->http(GET => '/metrics');
is($st, 200, 'the endpoint answers');
is($h->{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
   'the exposition format\'s content type');
is($h->{'content-length'}, length $body, 'Content-Length is the body\'s');

my $m0 = scrape();
is(v($m0, 'nginx_iot_info', version => '0.1.0'), 1, 'nginx_iot_info');
for my $f (qw(nginx_iot_devices nginx_iot_collections nginx_iot_tokens
              nginx_iot_uplinks_total nginx_iot_uplink_drops_total
              nginx_iot_downlinks_total nginx_iot_websocket_streams
              nginx_iot_websocket_refused_total
              nginx_iot_radius_requests_total nginx_iot_radius_drops_total
              nginx_iot_iotda_signatures_refused_total
              nginx_iot_store_errors_total nginx_iot_store_failing
              nginx_iot_zone_size_bytes nginx_iot_zone_used_bytes
              nginx_iot_bus_size_bytes nginx_iot_worker_websocket_streams
              nginx_iot_worker_history_backlog)) {
    ok($m0->{$f} && $m0->{$f}{help} && $m0->{$f}{type},
       "$f: HELP and TYPE");
}
is(v($m0, 'nginx_iot_zone_size_bytes', zone => 'iot'), 16 * 1024 * 1024,
   'the zone\'s size (16m)');
my $used = v($m0, 'nginx_iot_zone_used_bytes', zone => 'iot');
ok($used > 0 && $used < 16 * 1024 * 1024, "the zone's use: $used bytes");
ok(v($m0, 'nginx_iot_bus_size_bytes') > 0, 'the bus\'s ring');
is(v($m0, 'nginx_iot_store_errors_total', file => 'registry'), 0,
   'no store errors');
is(v($m0, 'nginx_iot_store_failing', file => 'history'), 0,
   'the history is not failing');

is(($t->http(POST => '/metrics', body => 'x'))[0], 405, 'POST: 405');
my ($hs, undef, $hb) = $t->http(HEAD => '/metrics');
is($hs, 200, 'HEAD: 200');
is($hb, '', '... without a body');

# Prometheus' own parser, where it is installed (python3-prometheus-client)
SKIP: {
    my $py = '/usr/bin/python3';
    skip 'python3-prometheus-client is not installed', 2
        unless system("$py -c 'import prometheus_client.parser' "
                      . "2>/dev/null") == 0;
    my $file = $t->dir . '/scrape.txt';
    open my $fh, '>', $file or die "$file: $!";
    print $fh $last_text;
    close $fh;
    my $out = `$py -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        n += 1
print(n)
' $file 2>&1`;
    chomp $out;
    like($out, qr/^\d+\z/, 'Prometheus\' parser reads it') or diag($out);
    my $ours = 0;
    $ours += @{ $m0->{$_}{samples} } for keys %$m0;
    is($out, $ours, "... the same $ours samples");
}

# ------------------------------------------------------------ the registry

my $C = $api->create_collection;
my $cid = $C->{collectionId};
my @dev = map { $api->create_device($cid, { imsi => $t->next_imsi,
                                            imei => $t->next_imei }) } 0 .. 1;
my $m1 = scrape();
is(v($m1, 'nginx_iot_devices'), v($m0, 'nginx_iot_devices') + 2,
   'two devices more');
is(v($m1, 'nginx_iot_collections'), v($m0, 'nginx_iot_collections') + 1,
   'one collection more');
my $tok = $api->create_token({ resource => "/collections/$cid",
                               write => JSON::XS::false() });
is(v(scrape(), 'nginx_iot_tokens'), v($m1, 'nginx_iot_tokens') + 1,
   'one token more');

# ------------------------------------------------------------ RADIUS

sub rc {
    my ($type, $attrs, %o) = @_;
    my ($exit, $out) = radclient($radius, $type, $SECRET, $attrs,
                                 dir => $t->dir, %o);
    return $out;
}

like(rc(auth => "3GPP-IMSI = \"$dev[0]{imsi}\""), qr/Access-Accept/,
     'Access-Request of a device: accepted');
like(rc(auth => '3GPP-IMSI = "999999999999999"'), qr/Access-Reject/,
     'Access-Request of no device: rejected');
like(rc(acct => 'Acct-Status-Type = Start, Acct-Session-Id = "m1", '
              . 'Framed-IP-Address = 127.0.0.2, '
              . "3GPP-IMSI = \"$dev[0]{imsi}\""),
     qr/Accounting-Response/, 'Accounting Start: answered');

my $rs = udp_socket();
ok(!defined exchange($rs, $radius,
                     packet(code => 4, secret => 'another secret',
                            attrs => [[40, pack('N', 1)]]), 1),
   'an Accounting-Request of another secret: not answered');
ok(!defined exchange($rs, $radius, "\x04\x01\x00", 1),
   'three bytes: not answered');

my $m2 = scrape();
is(v($m2, 'nginx_iot_radius_requests_total', type => 'access',
     result => 'accept'), 1, 'radius: one accept');
is(v($m2, 'nginx_iot_radius_requests_total', type => 'access',
     result => 'reject'), 1, 'radius: one reject');
is(v($m2, 'nginx_iot_radius_requests_total', type => 'accounting',
     result => 'response'), 1, 'radius: one accounting response');
is(v($m2, 'nginx_iot_radius_drops_total', reason => 'bad_authenticator'), 1,
   'radius: the other secret dropped');
is(v($m2, 'nginx_iot_radius_drops_total', reason => 'malformed'), 1,
   'radius: the three bytes dropped');
is(v($m2, 'nginx_iot_radius_received_total'), 5, 'radius: five received');
is(v($m2, 'nginx_iot_sessions'), 1, 'one address mapped to a device');

# ------------------------------------------------------------ uplinks

my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
my $d0 = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0,
                               Proto => 'udp') or die "127.0.0.2: $!";
$d0->send("reading $_", 0, $to) for 1 .. 3;
my $stranger = IO::Socket::INET->new(LocalAddr => '127.0.0.9',
                                     LocalPort => 0, Proto => 'udp')
    or die "127.0.0.9: $!";
$stranger->send('who', 0, $to);
$d0->send('x' x 2049, 0, $to);

is(wait_value(3, 'nginx_iot_uplinks_total', transport => 'udp'), 3,
   'three UDP uplinks');
is(wait_value(1, 'nginx_iot_uplink_drops_total', reason => 'unknown'), 1,
   'one from an unknown address');
is(wait_value(1, 'nginx_iot_uplink_drops_total', reason => 'large'), 1,
   'one too large');
my $m3 = scrape();
is(v($m3, 'nginx_iot_uplinks_total', transport => 'http'), 0,
   'no HTTP uplinks yet');
is(v($m3, 'nginx_iot_uplink_drops_total', reason => 'unrecorded'), 0,
   'nothing unrecorded');
ok(v($m3, 'nginx_iot_bus_messages_total') >= 3, 'the bus carried them');
ok(v($m3, 'nginx_iot_bus_used_bytes') > 0, '... and holds them');

# SenML over HTTP (the things dialect's ingestion): transport http
my $things = IoT::Things->new($t);
$things->{client_id} = $C->{teamId};
my $TD = $things->create_device($cid, { name => 'internet device' });
my $DVN = '7c0e0f5e-8a3d-4a52-9c1b-0f1e2d3c4b5a';
my $SHARED = 'Abc123' x 6;
is(($things->call(POST => "/devices/$TD->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SHARED }))[0],
   201, 'a things device with a generic adapter');

sub ingest {
    my ($body, $secret) = @_;
    return ($t->http(POST => '/ingestion/ip/senml/v1',
        headers => { 'Content-Type' => 'application/json',
                     'Things-Message-Token' => sha256_hex($body . $secret) },
        body => $body))[0];
}
my $pack = qq([{"bn":"urn:dev:DVNUUID:$DVN:","n":"t","v":21.5}]);
is(ingest($pack, $SHARED), 204, 'a SenML pack taken in');
is(ingest($pack, 'wrong'), 401, 'one with a wrong token refused');
is(ingest('{"not":"senml"}', $SHARED), 400, 'one that is no SenML pack');
my $m3h = scrape();
is(v($m3h, 'nginx_iot_uplinks_total', transport => 'http'), 1,
   'one HTTP uplink');
is(v($m3h, 'nginx_iot_uplinks_total', transport => 'udp'), 3,
   '... the UDP ones unchanged');
is(v($m3h, 'nginx_iot_uplink_drops_total', reason => 'refused'), 1,
   'the wrong token: refused');
is(v($m3h, 'nginx_iot_uplink_drops_total', reason => 'malformed'), 1,
   'the body that is no pack: malformed');
is(v($m3h, 'nginx_iot_devices'), v($m1, 'nginx_iot_devices') + 1,
   'the things device counted with the others');

# ------------------------------------------------------------ downlinks

my ($ds) = $api->call(POST => "/collections/$cid/devices/$dev[0]{deviceId}/to",
                      body => { port => $d0->sockport,
                                payload => encode_base64('down', '') });
is($ds, 204, 'a downlink sent');
($ds) = $api->call(POST => "/collections/$cid/devices/$dev[1]{deviceId}/to",
                   body => { port => 4000,
                             payload => encode_base64('down', '') });
is($ds, 409, 'a downlink to a device without an address');
my $m4 = scrape();
is(v($m4, 'nginx_iot_downlinks_total', transport => 'udp', state => 'sent'),
   1, 'downlinks: one sent');
is(v($m4, 'nginx_iot_downlinks_total', transport => 'udp',
     state => 'failed'), 1, 'downlinks: one failed');
is(v($m4, 'nginx_iot_downlinks_total', transport => 'coap-push',
     state => 'delivered'), 0, 'downlinks: CoAP\'s are there, at 0');

# ------------------------------------------------------------ WebSocket

my @workers = $t->workers;
my %is_worker = map { $_ => 1 } @workers;

sub worker_streams {
    my ($m) = @_;
    my %w;
    for my $s (IoT::Metrics::samples($m, 'nginx_iot_worker_websocket_streams')) {
        $w{ $s->{labels}{worker} } = $s->{value};
    }
    return \%w;
}

my $ws = IoT::WebSocket->connect(port => $t->port,
                                 path => "/collections/$cid/from",
                                 token => $tok->{token});
is($ws->{status}, 101, 'a stream opened');
my $ws2 = IoT::WebSocket->connect(port => $t->port,
                                  path => "/collections/$cid/from",
                                  token => $tok->{token});
is($ws2->{status}, 429, 'a second stream of the token: over its limit');
$ws2->close;

is(wait_value(1, 'nginx_iot_websocket_streams'), 1, 'one stream open');
my $m5 = scrape();
my $ws_w = worker_streams($m5);
is_deeply([ sort { $a <=> $b } keys %$ws_w ], [ sort { $a <=> $b } @workers ],
          'a value for each worker, labelled with its pid');
is((grep { $_ == 1 } values %$ws_w), 1, '... one worker holds the stream');
is(v($m5, 'nginx_iot_websocket_refused_total', limit => 'token'), 1,
   'the refused one counted (token)');
is(v($m5, 'nginx_iot_websocket_streams_opened_total'), 1, 'one opened');

$ws->send_close(1000);
$ws->wait_close;
$ws->close;
is(wait_value(0, 'nginx_iot_websocket_streams'), 0, 'closed: none open');

# ------------------------------------------------------------ iotda

my ($uuid) = (($t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token }))[2]
    =~ /"clientId":"([0-9a-f-]{36})"/);
(my $project = $uuid // '') =~ s/-//g;
my ($ak, $sk) = access_key($api->create_token({ resource => '/',
                                                 write => JSON::XS::true() })
                           ->{token});
my $bad = IoT::Iotda->new($t, project => $project, ak => $ak,
                          sk => 'f' x 64);
is(($bad->call(GET => "/devices/$dev[0]{deviceId}"))[0], 401,
   'an iotda request signed with a wrong secret: 401');
my $m6 = scrape();
is(v($m6, 'nginx_iot_iotda_signatures_refused_total',
     reason => 'signature'), 1, 'the refused signature counted');
is(v($m6, 'nginx_iot_iotda_signatures_refused_total', reason => 'date'), 0,
   '... under its reason alone');

# ------------------------------------------------------------ workers

my %backlog = map { $_->{labels}{worker} => $_->{value} }
              IoT::Metrics::samples($m6, 'nginx_iot_worker_history_backlog');
is_deeply([ sort { $a <=> $b } keys %backlog ],
          [ sort { $a <=> $b } @workers ],
          'the history backlog of each worker, by pid');

my @after = $t->kill_worker($workers[0]);
my $m7 = scrape();
my %b7 = map { $_->{labels}{worker} => 1 }
         IoT::Metrics::samples($m7, 'nginx_iot_worker_history_backlog');
my %s7 = %{ worker_streams($m7) };
ok(!$b7{$workers[0]} && !exists $s7{$workers[0]},
   'the killed worker is gone from the per-worker series');
is_deeply([ sort { $a <=> $b } keys %b7 ], [ sort { $a <=> $b } @after ],
          '... its successor is there');
is_deeply([ sort { $a <=> $b } keys %s7 ], [ sort { $a <=> $b } @after ],
          '... in every per-worker family');
is(v($m7, 'nginx_iot_uplinks_total', transport => 'udp'), 3,
   'the counters are the zone\'s: the same after a worker\'s death');

# after a reload the counters go on (the zone is kept)
$t->reload;
is(v(scrape(), 'nginx_iot_radius_requests_total', type => 'access',
     result => 'accept'), 1, 'RADIUS counters survive a reload');
is(v(scrape(), 'nginx_iot_uplinks_total', transport => 'udp'), 3,
   'uplink counters survive a reload');

# ------------------------------------------------------------ the parser

# the reader refuses what is not the format: it is what the tests trust
for my $bad (["x 1\n", 'a sample without TYPE'],
             ["# TYPE a_total counter\na_total 1\na_total 2\n",
              'a series twice'],
             ["# TYPE a counter\na 1\n", 'a counter without _total'],
             ["# TYPE a gauge\na{x=\"1\" 1\n", 'unclosed labels'],
             ["# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n",
              'a family split'],
             ["# TYPE a gauge\na 1", 'no final newline'],
             ["# TYPE a gauge\na 1\n# HELP a late\n", 'HELP after samples'],
             ["# TYPE a gauge\na one\n", 'a value that is no number']) {
    my ($m, $err) = IoT::Metrics::parse($bad->[0]);
    ok($err, "the reader refuses $bad->[1]");
}

$t->finish(allow => [qr/worker process \d+ exited on signal 9/]);
done_testing();
