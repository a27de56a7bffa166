#!/usr/bin/perl
# Bad input: every bad request gets a clear JSON error, never a 500 or a
# crash, and nothing already stored changes.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $t = IoT::Test->new(body_max => '64k');
my $api = IoT::Collections->new($t);
$t->start;

my ($s0, $C) = $api->call(POST => '/collections',
                          body => { tags => { name => 'keep me', k => 'v' } });
is($s0, 201, 'collection made');
my $cid = $C->{collectionId};
my ($s1, $D) = $api->call(POST => "/collections/$cid/devices",
    body => { imsi => $t->next_imsi, imei => $t->next_imei,
              tags => { name => 'dev' } });
is($s1, 201, 'device made');
my $did = $D->{deviceId};
my $curl = "/collections/$cid";
my $durl = "/collections/$cid/devices/$did";
my ($s2, $TOK) = $api->call(POST => '/tokens',
                            body => { resource => $curl, tags => { t => '1' } });
is($s2, 201, 'token made');
my $tok = $TOK->{token};

sub snapshot {
    return {
        colls   => ($api->call(GET => '/collections'))[1],
        coll    => ($api->call(GET => $curl))[1],
        devices => ($api->call(GET => "$curl/devices"))[1],
        dev     => ($api->call(GET => $durl))[1],
        tokens  => ($api->call(GET => '/tokens'))[1],
    };
}
my $SNAP = snapshot();
ok($SNAP->{coll} && $SNAP->{dev} && $SNAP->{tokens}, 'snapshot taken');

my $n = 0;
sub bad {
    my ($status, $name, $method, $path, $body, $msg_re) = @_;
    my @res = $api->call($method => $path,
                         defined $body ? (body => $body) : ());
    is_error(\@res, $status, $name, $msg_re);
    my $now = snapshot();
    # on a difference, go on from the new state so one fault fails once
    is_deeply($now, $SNAP, "$name: stored data unchanged") or $SNAP = $now;
}

# ---- malformed JSON and bodies that are not objects
for my $case (['{', 'truncated object'], ['{"tags": {"a": "b"}', 'unclosed'],
              ['{"a":1,}', 'trailing comma'], ["{'a':1}", 'single quotes'],
              ['{"tags": {"a": "b"}} x', 'trailing garbage'],
              ["\xff\xfe{}", 'not UTF-8'],
              ['{"tags":{"a":"' . "\xc3\x28" . '"}}', 'invalid UTF-8 in a string']) {
    my ($b, $what) = @$case;
    bad(400, "POST /collections: $what", POST => '/collections', $b);
    bad(400, "PATCH collection: $what", PATCH => $curl, $b);
    bad(400, "POST device: $what", POST => "$curl/devices", $b);
    bad(400, "PATCH device: $what", PATCH => $durl, $b);
}
bad(400, 'POST device: empty body', POST => "$curl/devices", '');
for my $case (['[]', 'an array'], ['"string"', 'a string'], ['42', 'a number'],
              ['null', 'null'], ['true', 'true'],
              ['[{"imsi":"1","imei":"2"}]', 'an array holding a device']) {
    my ($b, $what) = @$case;
    bad(400, "POST /collections: $what", POST => '/collections', $b);
    bad(400, "PATCH collection: $what", PATCH => $curl, $b);
    bad(400, "POST device: $what", POST => "$curl/devices", $b);
    bad(400, "PATCH device: $what", PATCH => $durl, $b);
    bad(400, "PATCH collection tags: $what", PATCH => "$curl/tags", $b);
    bad(400, "PATCH device tag: $what", PATCH => "$durl/tags/name", $b);
    bad(400, "POST /tokens: $what", POST => '/tokens', $b);
}

# deep nesting stays inside the body limit and must not hurt the parser
bad(400, 'deeply nested arrays', POST => "$curl/devices",
    '{"tags":' . ('[' x 20000) . (']' x 20000) . '}');
bad(400, 'deeply nested objects', PATCH => $durl,
    ('{"a":' x 5000) . '1' . ('}' x 5000));

# ---- wrong types and forms
my $imsi = $t->next_imsi;
my $imei = $t->next_imei;
my @dev_bad = (
    [ { imsi => 242016000000123, imei => $imei }, 'imsi as a number', qr/imsi/i ],
    [ { imsi => $imsi, imei => 352656100000123 }, 'imei as a number', qr/imei/i ],
    [ { imsi => JTRUE, imei => $imei },  'imsi as a bool', qr/imsi/i ],
    [ { imsi => [$imsi], imei => $imei }, 'imsi as a list', qr/imsi/i ],
    [ { imsi => '24201600000000a', imei => $imei }, 'imsi with a letter', qr/imsi/i ],
    [ { imsi => '1' x 17, imei => $imei }, 'imsi of 17 digits', qr/imsi/i ],
    [ { imsi => '', imei => $imei }, 'empty imsi', qr/imsi/i ],
    [ { imsi => ' 123', imei => $imei }, 'imsi with a space', qr/imsi/i ],
    [ { imsi => '-123', imei => $imei }, 'negative imsi', qr/imsi/i ],
    [ { imsi => '+123', imei => $imei }, 'imsi with a plus', qr/imsi/i ],
    [ { imsi => '12.5', imei => $imei }, 'imsi with a dot', qr/imsi/i ],
    [ { imsi => "12\x{0663}", imei => $imei }, 'imsi with a non-ASCII digit', qr/imsi/i ],
    [ { imsi => "123\n", imei => $imei }, 'imsi with a newline', qr/imsi/i ],
    [ { imsi => $imsi, imei => 'abc' }, 'imei with letters', qr/imei/i ],
    [ { imsi => $imsi, imei => '9' x 17 }, 'imei of 17 digits', qr/imei/i ],
    [ { imsi => $imsi, imei => '' }, 'empty imei', qr/imei/i ],
    [ { imei => $imei }, 'missing imsi', qr/imsi/i ],
    [ { imsi => $imsi }, 'missing imei', qr/imei/i ],
    [ { imsi => undef, imei => $imei }, 'null imsi (absent)', qr/imsi/i ],
    [ {}, 'neither imsi nor imei', qr/ims|imei/i ],
    [ { imsi => $imsi, imei => $imei, tags => 'x' }, 'tags a string', qr/tags/i ],
    [ { imsi => $imsi, imei => $imei, tags => ['a'] }, 'tags a list', qr/tags/i ],
    [ { imsi => $imsi, imei => $imei, tags => { a => 1 } }, 'tag value a number', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { a => JTRUE } }, 'tag value a bool', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { a => { b => 'c' } } }, 'tag value an object', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { a => ['c'] } }, 'tag value a list', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { '' => 'x' } }, 'empty tag name', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { 'n' x 65 => 'x' } }, 'tag name of 65 bytes', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { n => 'v' x 1025 } }, 'tag value of 1025 bytes', qr/tag/i ],
    [ { imsi => $imsi, imei => $imei, tags => { map { ("t$_" => 'v') } 1 .. 101 } }, '101 tags', qr/tag/i ],
);
for my $c (@dev_bad) {
    my ($body, $what, $re) = @$c;
    bad(400, "POST device: $what", POST => "$curl/devices", $body, $re);
}
# the values used above are still free: nothing was reserved by the refusals
{
    my ($s, $d) = $api->call(POST => "$curl/devices",
                             body => { imsi => $imsi, imei => $imei });
    is($s, 201, 'the IMSI/IMEI of refused creates are free');
    is(($api->call(DELETE => "$curl/devices/$d->{deviceId}"))[0], 204,
       'and that device deleted again');
    $SNAP = snapshot();
}

my @patch_bad = (
    [ { imsi => 123 }, 'imsi as a number', qr/imsi/i ],
    [ { imsi => 'abc' }, 'imsi with letters', qr/imsi/i ],
    [ { imsi => '' }, 'empty imsi', qr/imsi/i ],
    [ { imsi => '1' x 17 }, 'imsi of 17 digits', qr/imsi/i ],
    [ { imei => 'x1' }, 'imei with a letter', qr/imei/i ],
    [ { imei => JFALSE }, 'imei as a bool', qr/imei/i ],
    [ { tags => 'x' }, 'tags a string', qr/tags/i ],
    [ { tags => { a => 5 } }, 'tag value a number', qr/tag/i ],
    [ { collectionId => 5 }, 'collectionId a number', qr/collection/i ],
    [ { collectionId => [$cid] }, 'collectionId a list', qr/collection/i ],
    [ { imsi => $t->next_imsi, tags => { a => 5 } },
      'good imsi with bad tags: nothing applied', qr/tag/i ],
    [ { tags => { n => 'v' x 1025, ok => 'fine' } },
      'one bad tag among good ones', qr/tag/i ],
);
for my $c (@patch_bad) {
    my ($body, $what, $re) = @$c;
    bad(400, "PATCH device: $what", PATCH => $durl, $body, $re);
}

my @coll_bad = (
    [ { tags => 'x' }, 'tags a string', qr/tags/i ],
    [ { tags => ['a'] }, 'tags a list', qr/tags/i ],
    [ { tags => { a => 1 } }, 'tag value a number', qr/tag/i ],
    [ { tags => { a => undef, b => 2 } }, 'tag value a number beside a null', qr/tag/i ],
    [ { fieldMask => 'x' }, 'fieldMask a string', qr/fieldMask/i ],
    [ { fieldMask => [JTRUE] }, 'fieldMask a list', qr/fieldMask/i ],
    [ { fieldMask => { imsi => 'yes' } }, 'fieldMask.imsi a string', qr/fieldMask|imsi/i ],
    [ { fieldMask => { imei => 1 } }, 'fieldMask.imei a number', qr/fieldMask|imei/i ],
    [ { fieldMask => { location => JTRUE, msisdn => 'no' } },
      'one bad fieldMask key among good', qr/fieldMask|msisdn/i ],
    [ { teamId => 5 }, 'teamId a number', qr/team/i ],
    [ { tags => { x => 'y' }, fieldMask => { imsi => 0 } },
      'good tags with a bad fieldMask: nothing applied', qr/fieldMask|imsi/i ],
);
for my $c (@coll_bad) {
    my ($body, $what, $re) = @$c;
    bad(400, "PATCH collection: $what", PATCH => $curl, $body, $re);
    bad(400, "POST /collections: $what", POST => '/collections', $body, $re);
}

# tags sub-resources
bad(400, 'PATCH tags: value a number', PATCH => "$curl/tags", { a => 1 }, qr/tag|\ba\b/i);
bad(400, 'PATCH tags: a list', PATCH => "$durl/tags", ['a']);
bad(400, 'PATCH tags: value too long', PATCH => "$curl/tags", { a => 'v' x 1025 }, qr/tag|\ba\b/i);
bad(400, 'PATCH tags: name too long', PATCH => "$durl/tags", { 'n' x 65 => 'v' }, qr/tag/i);
bad(400, 'PATCH tag: value a number', PATCH => "$curl/tags/name", { value => 5 }, qr/value/i);
bad(400, 'PATCH tag: value a list', PATCH => "$durl/tags/name", { value => ['x'] }, qr/value/i);
bad(400, 'PATCH tag: value too long', PATCH => "$durl/tags/name", { value => 'v' x 1025 }, qr/value|tag/i);
bad(400, 'PATCH tag: name too long', PATCH => "$durl/tags/" . ('n' x 65), { value => 'v' }, qr/tag|name/i);
# names that are not UTF-8 (a tag name is a JSON object's key)
bad(400, 'PATCH tag: name %FF', PATCH => "$curl/tags/%FF", { value => 'v' }, qr/UTF-8/);
bad(400, 'PATCH device tag: name %FF', PATCH => "$durl/tags/%FF", { value => 'v' }, qr/UTF-8/);
bad(400, 'PATCH tag: name a%C3(', PATCH => "$curl/tags/a%C3(", { value => 'v' }, qr/UTF-8/);
bad(400, 'PATCH device tag: overlong %C0%80', PATCH => "$durl/tags/%C0%80", { value => 'v' }, qr/UTF-8/);
bad(400, 'PATCH tag: a surrogate %ED%A0%80', PATCH => "$curl/tags/%ED%A0%80", { value => 'v' }, qr/UTF-8/);
bad(404, 'GET tag: name %FF', GET => "$curl/tags/%FF", undef, qr/tag/);
bad(404, 'DELETE device tag: name %FF', DELETE => "$durl/tags/%FF", undef, qr/tag/);

# tokens
bad(400, 'POST /tokens: resource a number', POST => '/tokens', { resource => 5 }, qr/resource/i);
bad(400, 'POST /tokens: resource not a path', POST => '/tokens', { resource => 'collections' }, qr/resource/i);
bad(400, 'POST /tokens: resource missing', POST => '/tokens', { write => JFALSE }, qr/resource/i);
bad(400, 'POST /tokens: resource empty', POST => '/tokens', { resource => '' }, qr/resource/i);
bad(400, 'POST /tokens: write a string', POST => '/tokens', { resource => '/', write => 'yes' }, qr/write/i);
bad(400, 'POST /tokens: write a number', POST => '/tokens', { resource => '/', write => 1 }, qr/write/i);
bad(400, 'POST /tokens: tags a list', POST => '/tokens', { resource => '/', tags => [] }, qr/tags/i);
bad(400, 'PATCH token: write a number', PATCH => "/tokens/$tok", { write => 1 }, qr/write/i);
bad(400, 'PATCH token: resource a number', PATCH => "/tokens/$tok", { resource => 1 }, qr/resource/i);
bad(400, 'PATCH token: tag value a number', PATCH => "/tokens/$tok", { tags => { t => 2 } }, qr/tag/i);

# ---- tag limits: the boundaries themselves are fine
{
    my $name64 = 'n' x 64;
    my ($s, $p) = $api->call(PATCH => $durl,
        body => { tags => { $name64 => 'v' x 1024 } });
    is($s, 200, 'tag name of 64 bytes with a value of 1024 bytes is fine');
    is(length($p->{tags}{$name64} // ''), 1024, 'long value stored whole');
    my $utf = "\x{263a}" x 21;    # 63 bytes of UTF-8
    ($s, $p) = $api->call(PATCH => $durl, body => { tags => { $utf => "\x{e9}t\x{e9}" } });
    is($s, 200, 'UTF-8 tag name and value');
    is($p->{tags}{$utf}, "\x{e9}t\x{e9}", 'UTF-8 value round trip');
    ($s) = $api->call(PATCH => $durl, body => { tags => { $name64 => '', $utf => '' } });
    is($s, 200, 'removed again');
    $SNAP = snapshot();

    my %t100 = map { ("t$_" => "v$_") } 1 .. 100;
    ($s, $p) = $api->call(POST => "$curl/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei, tags => \%t100 });
    is($s, 201, 'a device with 100 tags');
    is(scalar keys %{ $p->{tags} || {} }, 100, '100 tags stored');
    my $u = "$curl/devices/$p->{deviceId}";
    my $before = ($api->call(GET => $u))[1];
    is_error([$api->call(PATCH => $u, body => { tags => { t101 => 'x' } })], 400,
             'a 101st tag by PATCH', qr/tag/i);
    is_error([$api->call(PATCH => "$u/tags", body => { t101 => 'x' })], 400,
             'a 101st tag by PATCH tags', qr/tag/i);
    is_error([$api->call(PATCH => "$u/tags/t101", body => { value => 'x' })], 400,
             'a 101st tag by PATCH tags/{name}', qr/tag/i);
    is_deeply(($api->call(GET => $u))[1], $before, 'the device kept its 100 tags');
    ($s, $p) = $api->call(PATCH => $u, body => { tags => { t1 => '', t101 => 'x' } });
    is($s, 200, 'removing one and adding one in the same PATCH is fine');
    is(scalar keys %{ $p->{tags} || {} }, 100, 'still 100 tags');
    is(($api->call(DELETE => $u))[0], 204, 'device with 100 tags deleted');
    is_deeply(snapshot(), $SNAP, 'stored data as before');
}

# ---- oversized body
{
    my $big = '{"tags":{"a":"' . ('x' x (70 * 1024)) . '"}}';
    my @res = $api->call(PATCH => $curl, body => $big);
    is_error(\@res, 413, 'body larger than client_max_body_size');
    is_deeply(snapshot(), $SNAP, 'oversized body: stored data unchanged');

    my $chunk = 'x' x 8192;
    my $raw = $t->raw_request([
        "POST $curl/devices HTTP/1.1\r\nHost: x\r\nX-API-Token: "
        . $t->admin_token . "\r\nContent-Type: application/json\r\n"
        . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        (map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) } 1 .. 10),
        "0\r\n\r\n" ], until => qr/\r\n\r\n.*\}/s);
    my ($st, $h, $body) = IoT::Test::parse_response($raw);
    my $j = json_decode($body);
    is_error([$st, $j, $h, $body], 413, 'chunked body larger than the limit');
    is_deeply(snapshot(), $SNAP, 'oversized chunked body: data unchanged');
}

# ---- a body sent in pieces and chunked bodies are read whole
{
    my $body = json_encode({ imsi => $t->next_imsi,
                             imei => $t->next_imei,
                             tags => { how => 'slowly' } });
    my $head = "POST $curl/devices HTTP/1.1\r\nHost: x\r\nX-API-Token: "
             . $t->admin_token . "\r\nContent-Type: application/json\r\n"
             . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n";
    my $raw = $t->raw_request([ $head, substr($body, 0, 10),
                                substr($body, 10, 15), substr($body, 25) ],
                              pause => 0.3, until => qr/\r\n\r\n.*\}/s);
    my ($st, $h, $b) = IoT::Test::parse_response($raw);
    is($st, 201, 'body arriving in pieces: 201');
    my $d = json_decode($b);
    is($d && $d->{tags}{how}, 'slowly', 'the whole body was read');
    $api->call(DELETE => "$curl/devices/$d->{deviceId}") if $d;

    my $body2 = json_encode({ imsi => $t->next_imsi,
                              imei => $t->next_imei,
                              tags => { how => 'chunked' } });
    $raw = $t->raw_request([
        "POST $curl/devices HTTP/1.1\r\nHost: x\r\nX-API-Token: "
        . $t->admin_token . "\r\nTransfer-Encoding: chunked\r\n"
        . "Connection: close\r\n\r\n",
        sprintf("%x\r\n%s\r\n", 7, substr($body2, 0, 7)),
        sprintf("%x\r\n%s\r\n", length($body2) - 7, substr($body2, 7)),
        "0\r\n\r\n" ], pause => 0.2, until => qr/\r\n\r\n.*\}/s);
    ($st, $h, $b) = IoT::Test::parse_response($raw);
    is($st, 201, 'chunked body: 201');
    $d = json_decode($b);
    is($d && $d->{tags}{how}, 'chunked', 'the whole chunked body was read');
    $api->call(DELETE => "$curl/devices/$d->{deviceId}") if $d;
    is_deeply(snapshot(), $SNAP, 'stored data as before');
}

# ---- unknown ids and ids of the wrong form
{
    my $up = uc $cid;
    my @paths = (
        '/collections/0000000000000', '/collections/vvvvvvvvvvvvv',
        '/collections/wwwwwwwwwwwww', "/collections/$up",
        '/collections/' . substr($cid, 0, 12), "/collections/${cid}0",
        '/collections/' . ('a' x 300),
        "$curl/devices/0000000000000", "$curl/devices/" . uc($did),
        "$curl/devices/" . substr($did, 1), "$curl/devices/${did}x",
        '/tokens/000000000000', '/tokens/' . ('0' x 64), '/tokens/xyz',
    );
    for my $p (@paths) {
        next if $p eq "/collections/$up" && $up eq $cid;
        is_error([$api->call(GET => $p)], 404, "GET $p");
        is_error([$api->call(PATCH => $p, body => {})], 404, "PATCH $p");
        is_error([$api->call(DELETE => $p)], 404, "DELETE $p");
    }
    is_deeply(snapshot(), $SNAP, 'unknown ids: data unchanged');
}

# ---- bad limit and cursor
for my $q ('limit=-1', 'limit=abc', 'limit=10001', 'limit=1.5',
           'limit=99999999999999999999', 'cursor=!!', 'cursor=' . ('z' x 13),
           'cursor=' . ('a' x 200), 'limit=2x') {
    for my $l ('/collections', "$curl/devices", '/tokens') {
        is_error([$api->call(GET => "$l?$q")], 400, "GET $l?$q",
                 $q =~ /limit/ ? qr/limit/i : qr/cursor/i);
    }
}

# ---- garbage over TCP must not crash anything
{
    my @workers = $t->workers;
    my $tokhdr = 'X-API-Token: ' . $t->admin_token . "\r\n";
    my @garbage = (
        "\x00\x01\x02\xff\xfe garbage\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET /collections HTTP/1.1\r\nHost: x\r\n${tokhdr}Content-Length: 5\r\n\r\n",
        "POST /collections HTTP/1.1\r\nHost: x\r\n${tokhdr}Content-Length: 100\r\n\r\n{\"tags\":",
        "PATCH $curl HTTP/1.1\r\nHost: x\r\n${tokhdr}Content-Length: 4\r\n\r\n\x00\x00\x00\x00",
        "GET /collections/../system HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "GET //collections// HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "GET /collections/%2F%2F HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "GET /collections?limit=1&limit=2&cursor=&&&=== HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "GET /collections HTTP/1.1\r\nHost: x\r\nX-API-Token: \x01\x02\xff\r\n\r\n",
        "GET /collections HTTP/1.1\r\nHost: x\r\nX-API-Token: " . ('a' x 4000) . "\r\n\r\n",
        "GET /collections HTTP/1.1\r\nHost: x\r\n$tokhdr$tokhdr\r\n",
        "DELETE $durl/tags/%ff%fe%00 HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "PATCH $durl/tags/%00 HTTP/1.1\r\nHost: x\r\n${tokhdr}Content-Length: 13\r\n\r\n{\"value\":\"x\"}",
        "GET /" . ('x' x 6000) . " HTTP/1.1\r\nHost: x\r\n$tokhdr\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n${tokhdr}Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST $curl/devices HTTP/1.1\r\nHost: x\r\n${tokhdr}Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ims\r\n",
        "GET / HTTP/9.9\r\n\r\n",
    );
    for my $i (0 .. $#garbage) {
        my $raw = $t->raw_request($garbage[$i], half_close => 1);
        my ($st) = IoT::Test::parse_response($raw);
        ok($st < 500 || $st == 505,
           "garbage #$i: no server error") or diag("got: $raw");
        is(($api->call(GET => '/'))[0], 200, "garbage #$i: server still answers");
    }
    # a client that goes away in the middle of a body
    for my $i (1 .. 5) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port, Proto => 'tcp');
        print $s "POST $curl/devices HTTP/1.1\r\nHost: x\r\n$tokhdr"
               . "Content-Length: 1000\r\n\r\n{\"imsi\":\"1";
        close $s;
    }
    is(($api->call(GET => '/'))[0], 200, 'server answers after aborted bodies');
    is_deeply([ $t->workers ], \@workers, 'no worker died or was replaced');
    is_deeply(snapshot(), $SNAP, 'garbage: stored data unchanged');
}

$t->finish;
done_testing;
