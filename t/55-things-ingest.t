#!/usr/bin/perl
# Internet devices send SenML as KPN's do: POST /ingestion/ip/senml/v1 with
# the base name urn:dev:DVNUUID:<dvnUuid>: and Things-Message-Token = hex
# SHA-256 of the body's bytes followed by the generic adapter's shared
# secret.  A valid pack is an uplink of that device (transport http): in
# the history and on the device's and its collection's live streams, the
# bytes as they came.  A wrong or missing token (401), an unknown DVN UUID
# (404), a pack that is not SenML (400), a body over 2048 bytes (413) are
# refused, counted in $iot_uplink_stats, and store nothing.

use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;
use IoT::WebSocket;
use IO::Select;
use IO::Socket::INET;

my $stats = IoT::Test::free_port('tcp');
my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS,
    stream_conf => "    server { listen 127.0.0.1:$stats; "
                   . "return \"\$iot_uplink_stats\"; }\n");
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

sub counters {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp') or return {};
    my $j = do { local $/; <$s> };
    return json_decode($j) // {};
}

my $C = $col->create_collection;
my $cid = $C->{collectionId};
$api->{client_id} = $C->{teamId};
my $D = $api->create_device($cid, { name => 'internet device' });
my $DVN = '7c0e0f5e-8a3d-4a52-9c1b-0f1e2d3c4b5a';
my $SECRET = 'Abc123' x 6;
my ($st) = $api->call(POST => "/devices/$D->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SECRET });
is($st, 201, 'a generic adapter with a shared secret');
my $did = ($col->call(GET => "/collections/$cid/devices"))[1]{devices}[0]{deviceId};

sub ingest {
    my ($body, %o) = @_;
    my %h = ('Content-Type' => 'application/json');
    $h{'Things-Message-Token'} = $o{token} // sha256_hex($body . ($o{secret} // $SECRET))
        unless $o{no_token};
    my ($s, $hd, $raw) = $t->http(POST => $o{path} // '/ingestion/ip/senml/v1',
                                  headers => \%h, body => $body);
    return ($s, json_decode($raw), $hd, $raw);
}

sub history {
    my ($s, $j) = $col->call(GET => "/collections/$cid/data?limit=100");
    return $s == 200 ? $j->{messages} : "status $s";
}

# the history is written by a thread of its own: wait until it has n
sub history_of {
    my ($n) = @_;
    IoT::Test::wait_until(sub { ref history() && @{ history() } >= $n }, 10);
    return history();
}

my $ws_c = IoT::WebSocket->connect(port => $t->port, path => "/collections/$cid/from",
                                   token => $t->admin_token);
ok($ws_c && $ws_c->upgraded, 'a collection stream');
my $ws_d = IoT::WebSocket->connect(port => $t->port,
                                   path => "/collections/$cid/devices/$did/from",
                                   token => $t->admin_token);
ok($ws_d && $ws_d->upgraded, 'a device stream');

sub next_data {
    my ($ws) = @_;
    while (my $f = $ws->recv_frame(10)) {
        next if $f->{payload} =~ /"keepAlive"/;
        return json_decode($f->{payload});
    }
    return undef;
}

# ---- a valid pack

my $pack = qq([{"bn":"urn:dev:DVNUUID:$DVN:","bt":1.7e9,"n":"temperature","u":"Cel","v":21.5},)
         . qq({"n":"door","vb":true},{"n":"msg","vs":"hi"}]);
my ($s, $j, $h, $raw) = ingest($pack);
is($s, 204, 'a signed pack is taken: 204');

for my $ws ([ $ws_c, 'collection' ], [ $ws_d, 'device' ]) {
    my $m = next_data($ws->[0]);
    ok($m, "the $ws->[1] stream has it") or next;
    is($m->{transport}, 'http', 'transport http');
    is(decode_base64($m->{payload}), $pack, 'the payload is the pack as it came');
    is($m->{device}{deviceId}, $did, 'of the device');
}
{
    my $hist = history_of(1);
    is(scalar @$hist, 1, 'one message in the history');
    is(decode_base64($hist->[0]{payload}), $pack, 'the pack');
    is($hist->[0]{transport}, 'http', 'transport http');
}
is(counters()->{received}, 1, 'counted as received');

# upper-case hex, an upper-case base name, no trailing colon
{
    my $p = qq([{"bn":"URN:DEV:DVNUUID:) . uc($DVN) . qq(","n":"x","v":1}]);
    my ($s2) = ingest($p, token => uc sha256_hex($p . $SECRET));
    is($s2, 204, 'upper-case token and base name');
    ok(next_data($ws_c) && next_data($ws_d), 'streamed');
}

# ---- refusals store nothing

my $before = scalar @{ history_of(2) };
is($before, 2, 'two messages in the history');
my %c0 = %{ counters() };

for my $case (
    [ 'no token',        [ $pack, no_token => 1 ], 401 ],
    [ 'a wrong token',   [ $pack, token => sha256_hex($pack . 'x' . $SECRET) ], 401 ],
    [ 'the secret of no one', [ $pack, secret => 'Z' x 40 ], 401 ],
    [ 'a token of another body', [ $pack . ' ', token => sha256_hex($pack . $SECRET) ], 401 ],
    [ 'a short token',   [ $pack, token => 'abc' ], 401 ],
) {
    my ($name, $args, $want) = @{$case};
    is_problem([ ingest(@$args) ], $want, $name);
}
{
    my $p = qq([{"bn":"urn:dev:DVNUUID:11111111-2222-4333-8444-555555555555:","v":1}]);
    is_problem([ ingest($p) ], 404, 'an unknown DVN UUID', qr/DVN UUID/);
}
for my $case (
    [ 'not JSON',           '[{"bn":' ],
    [ 'an object',          qq({"bn":"urn:dev:DVNUUID:$DVN:","v":1}) ],
    [ 'an empty pack',      '[]' ],
    [ 'a record not an object', qq([{"bn":"urn:dev:DVNUUID:$DVN:"},1]) ],
    [ 'no base name',       '[{"n":"x","v":1}]' ],
    [ 'another urn',        '[{"bn":"urn:dev:IMEI:352650000000001:","v":1}]' ],
    [ 'a bad UUID',         '[{"bn":"urn:dev:DVNUUID:nope:","v":1}]' ],
    [ 'v a string',         qq([{"bn":"urn:dev:DVNUUID:$DVN:","v":"1"}]) ],
    [ 'vb a number',        qq([{"bn":"urn:dev:DVNUUID:$DVN:","vb":1}]) ],
    [ 'n a number',         qq([{"bn":"urn:dev:DVNUUID:$DVN:","n":1,"v":1}]) ],
    [ 'two values',         qq([{"bn":"urn:dev:DVNUUID:$DVN:","v":1,"vs":"a"}]) ],
    [ 'a must-understand field', qq([{"bn":"urn:dev:DVNUUID:$DVN:","v":1,"x_":1}]) ],
    [ 'two devices',        qq([{"bn":"urn:dev:DVNUUID:$DVN:","v":1},)
                            . '{"bn":"urn:dev:DVNUUID:11111111-2222-4333-8444-555555555555:","v":2}]' ],
) {
    is_problem([ ingest($case->[1]) ], 400, "malformed: $case->[0]");
}
{
    my $big = qq([{"bn":"urn:dev:DVNUUID:$DVN:","vs":") . ('x' x 2100) . '"}]';
    is_problem([ ingest($big) ], 413, 'over 2048 bytes');
}
is_problem([ $api->call(GET => '/ingestion/ip/senml/v1') ], 405, 'GET is 405');
is_problem([ $api->call(POST => '/ingestion/ip/senml/v2', body => []) ], 404,
           'another version');

# a message taken after the refusals: once it is in the history, so would
# anything before it be
is((ingest(qq([{"bn":"urn:dev:DVNUUID:$DVN:","v":3}])))[0], 204,
   'a last good pack');
ok(next_data($ws_c) && next_data($ws_d), 'streamed');
is(scalar @{ history_of($before + 1) }, $before + 1,
   'nothing refused is in the history');
my %c1 = %{ counters() };
is($c1{refused} - ($c0{refused} // 0), 5, 'five wrong signatures counted');
is($c1{unknown} - ($c0{unknown} // 0), 1, 'one unknown DVN UUID counted');
is($c1{malformed} - ($c0{malformed} // 0), 13, 'thirteen malformed packs counted');
is($c1{large} - ($c0{large} // 0), 1, 'one too large');
is($c1{received}, $c0{received} + 1, 'only the good one received');
{
    my $f = $ws_c->recv_frame(1);
    ok(!$f || $f->{payload} =~ /keepAlive/, 'nothing refused was streamed');
}
unlike($t->read_log, qr/\Q$SECRET\E/, 'the secret is not in the log');

# ---- a new secret signs from then on; a device without one is refused

($st) = $api->call(PUT => "/devices/$D->{id}/network-adapters/"
    . (grep { $_->{type} eq 'generic' }
       @{ ($api->call(GET => "/devices/$D->{id}/network-adapters"))[1]{items} })[0]{id},
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => 'N3w' x 11 });
is($st, 200, 'a new shared secret');
is_problem([ ingest($pack) ], 401, 'the old secret signs no more');
is((ingest($pack, secret => 'N3w' x 11))[0], 204, 'the new one does');

# ---- a 204 means stored: a worker killed before its history batch is
# written never said 204 for what it loses (one worker, held by gdb at
# the start of its history writer's batch)

SKIP: {
    skip 'gdb is not installed', 5 unless -x $IoT::Test::GDB;
    skip 'not under valgrind', 5 if $ENV{IOT_TEST_VALGRIND};

    my $t1 = IoT::Test->new(location => $IoT::Things::LOCATIONS,
                            workers => 1);
    my $col1 = IoT::Collections->new($t1);
    my $api1 = IoT::Things->new($t1);
    $t1->start;
    my $C1 = $col1->create_collection;
    $api1->{client_id} = $C1->{teamId};
    my $D1 = $api1->create_device($C1->{collectionId}, { name => 'held' });
    my ($s1) = $api1->call(POST => "/devices/$D1->{id}/network-adapters",
        body => { type => 'generic', dvnUuid => $DVN,
                  sharedSecret => $SECRET });
    is($s1, 201, 'a device with a generic adapter, on one worker');

    my ($w) = $t1->workers;
    my $gdb = $t1->gdb($w, ['break ngx_iot_store_history_add', 'continue',
                            'kill'], timeout => 60);
    ok(IoT::Test::wait_until(sub { $t1->traced_by($w) }, 30),
       'gdb attached');
    sleep 1;

    my $body = '[{"bn":"urn:dev:DVNUUID:' . $DVN . ':","n":"held","v":1}]';
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t1->port, Proto => 'tcp')
        or die "connect: $!";
    print $sock "POST /ingestion/ip/senml/v1 HTTP/1.1\r\nHost: x\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\nThings-Message-Token: "
        . sha256_hex($body . $SECRET) . "\r\nConnection: close\r\n"
        . "\r\n$body";
    my $sel = IO::Select->new($sock);
    my $early = $sel->can_read(3)
                ? do { my $b = ''; sysread($sock, $b, 4096); $b } : '';
    unlike($early, qr{^HTTP/1\.1 204}, 'no 204 before its batch is written');
    my $trace = do { local $/; <$gdb> };
    close $gdb;
    like($trace, qr/Breakpoint 1, ngx_iot_store_history_add/,
         'the worker was killed as its history writer started the batch');
    my $answer = $early;
    if (!length $answer && $sel->can_read(10)) {
        local $/;
        $answer = <$sock> // '';
    }
    unlike($answer, qr{^HTTP/1\.1 204}, 'and it never said 204');
    $t1->check_log('a worker killed', allow => [qr/exited on signal 9/]);
    $t1->finish;
}

# ---- a reload while a pack waits for its history batch: the old worker
# stays until the batch is written, answers 204 and goes cleanly (another
# process holds the history's write lock meanwhile)

SKIP: {
    skip 'sqlite3 is not installed', 4 unless -x '/usr/bin/sqlite3';

    my $t2 = IoT::Test->new(location => $IoT::Things::LOCATIONS,
                            workers => 1);
    my $col2 = IoT::Collections->new($t2);
    my $api2 = IoT::Things->new($t2);
    $t2->start;
    my $C2 = $col2->create_collection;
    $api2->{client_id} = $C2->{teamId};
    my $D2 = $api2->create_device($C2->{collectionId}, { name => 'reload' });
    my ($s2) = $api2->call(POST => "/devices/$D2->{id}/network-adapters",
        body => { type => 'generic', dvnUuid => $DVN,
                  sharedSecret => $SECRET });
    is($s2, 201, 'a device with a generic adapter, on one worker');

    open(my $lock, '|-', '/usr/bin/sqlite3', $t2->dir . '/var/iot.db-history')
        or die "sqlite3: $!";
    select((select($lock), $| = 1)[0]);
    print $lock "BEGIN IMMEDIATE;\n";
    sleep 0.5;

    my $body = '[{"bn":"urn:dev:DVNUUID:' . $DVN . ':","n":"reload","v":2}]';
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $t2->port, Proto => 'tcp')
        or die "connect: $!";
    print $sock "POST /ingestion/ip/senml/v1 HTTP/1.1\r\nHost: x\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\nThings-Message-Token: "
        . sha256_hex($body . $SECRET) . "\r\nConnection: close\r\n"
        . "\r\n$body";
    sleep 1;
    kill 'HUP', $t2->pid;
    sleep 1;
    print $lock "COMMIT;\n";
    close $lock;

    my $sel = IO::Select->new($sock);
    my $answer = '';
    if ($sel->can_read(15)) {
        local $/;
        $answer = <$sock> // '';
    }
    like($answer, qr{^HTTP/1\.1 204}, 'the old worker answered 204 once '
                                       . 'the batch was written');
    my (undef, $j) = $col2->call(GET => "/collections/$C2->{collectionId}/data");
    is(scalar @{ $j->{messages} || [] }, 1, 'and the pack is in the history');
    $t2->check_log('a reload with a pack waiting');
    $t2->finish;
}

# deleted: the DVN UUID is no one's
$api->call(DELETE => "/devices/$D->{id}");
is_problem([ ingest($pack, secret => 'N3w' x 11) ], 404,
           'the device deleted: its DVN UUID is unknown');

$t->finish;
done_testing;
