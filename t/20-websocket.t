#!/usr/bin/perl
# The /from WebSocket streams (RFC 6455, server side), from the outside:
# the handshake and its refusals, the frame parser (masking, reserved bits,
# opcodes, control frames, fragmentation, sizes, UTF-8), ping/pong, the
# close handshake and its codes, keep-alive frames, a slow reader closed
# with 1008, and streams closed with 1001 on reload and shutdown.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::WebSocket;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes ();

use constant {
    CONT => 0, TEXT => 1, BINARY => 2, CLOSE => 8, PING => 9, PONG => 10,
};

my $slow_port = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(
    server_conf => "lingering_timeout 2s;\n",
    location => <<'EOF',
location / { iot_api collections; }
location /ka/ { iot_api collections; iot_ws_keepalive 200ms; }
location /small/ { iot_api collections; iot_ws_max_message 1k; }
EOF
    # a slow reader: small socket buffers, keep-alive frames every 1ms
    http_conf => <<"EOF",
    server {
        listen 127.0.0.1:$slow_port sndbuf=4k;
        location / {
            iot_api collections;
            iot_ws_keepalive 1ms;
            iot_ws_send_buffer 2k;
            lingering_timeout 30s;
        }
    }
EOF
);
my $api = IoT::Collections->new($t);
$t->start;

my $C = ($api->call(POST => '/collections', body => {}))[1];
my $cid = $C->{collectionId};
my $C2 = ($api->call(POST => '/collections', body => {}))[1];
my $cid2 = $C2->{collectionId};
my $D = ($api->call(POST => "/collections/$cid/devices",
                    body => { imsi => $t->next_imsi, imei => $t->next_imei }))[1];
my $did = $D->{deviceId};
ok($cid && $cid2 && $did, 'two collections and a device');

my (undef, $RO) = $api->call(POST => '/tokens',
                             body => { resource => "/collections/$cid" });
my (undef, $RW) = $api->call(POST => '/tokens',
                             body => { resource => "/collections/$cid",
                                       write => JTRUE });
my (undef, $OTHER) = $api->call(POST => '/tokens',
                                body => { resource => "/collections/$cid2" });
ok($RO->{token} && $RW->{token} && $OTHER->{token}, 'three tokens');

my $FROM = "/collections/$cid/from";

sub ws {
    my (%o) = @_;
    my $path = delete $o{path} // $FROM;
    my $tok = exists $o{token} ? delete $o{token} : $t->admin_token;
    return IoT::WebSocket->connect(port => $t->port, path => $path,
                                   token => $tok, %o);
}

# a refused handshake: the status, the JSON error, no upgrade
sub refused {
    my ($ws, $status, $name, $re) = @_;
    my $j = json_decode($ws->{body} // '');
    my $ok = is($ws->{status}, $status, "$name: $status");
    $ok &= like($ws->{headers}{'content-type'} // '', qr{^application/json},
                "$name: JSON");
    $ok &= ok($j && $j->{status} && $j->{status} == $status
              && length($j->{message} // ''), "$name: {status, message}");
    $ok &= like($j->{message} // '', $re, "$name: message names it") if $re;
    diag($ws->{raw_head} . "\n" . ($ws->{body} // '')) unless $ok;
    $ws->close;
}

# the stream still works: a ping is answered with its pong
sub alive {
    my ($ws, $name) = @_;
    my $p = "alive-" . int(rand(1e6));
    $ws->send_ping($p);
    my $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG && $f->{payload} eq $p,
       "$name: the stream goes on (ping answered)")
        or diag(explain $f);
}

# the server closes with a code (and a reason), then closes the connection
sub closes_with {
    my ($ws, $code, $name, $re) = @_;
    my $f = $ws->wait_close;
    ok($f, "$name: a close frame") or return;
    is($f->{code}, $code, "$name: close code $code");
    ok(!$f->{masked} && $f->{fin} && !$f->{rsv},
       "$name: close frame unmasked, FIN, no RSV");
    like($f->{reason}, $re, "$name: reason") if $re;
    ok($ws->wait_eof, "$name: then the connection is closed");
    $ws->close;
}

# ------------------------------------------------------------ handshake

{
    # the example of RFC 6455 1.3
    my $ws = ws(key => 'dGhlIHNhbXBsZSBub25jZQ==');
    is($ws->{status}, 101, 'handshake: 101');
    like($ws->{status_line}, qr{^HTTP/1\.1 101 Switching Protocols},
         'handshake: status line');
    is($ws->{headers}{'sec-websocket-accept'},
       's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'handshake: the RFC example accept');
    like($ws->{headers}{upgrade} // '', qr/^websocket$/i,
         'handshake: Upgrade: websocket');
    like($ws->{headers}{connection} // '', qr/^upgrade$/i,
         'handshake: Connection: upgrade');
    ok(!exists $ws->{headers}{'content-length'}
       && !exists $ws->{headers}{'transfer-encoding'},
       'handshake: no body framing');
    alive($ws, 'handshake');
    $ws->send_close(1000);
    closes_with($ws, 1000, 'handshake');
}

{
    my $ws = ws(path => "/collections/$cid/devices/$did/from");
    ok($ws->upgraded, 'device stream: 101');
    alive($ws, 'device stream');
    $ws->close;
}

{
    my $ws = ws(headers => { Connection => 'keep-alive, Upgrade',
                             Upgrade => 'WebSocket' });
    ok($ws->upgraded, 'Connection as a token list, any case: 101');
    $ws->close;

    $ws = ws(headers => { Connection => 'UPGRADE ,keep-alive' });
    ok($ws->upgraded, 'Connection: UPGRADE first: 101');
    $ws->close;

    $ws = ws(headers => { Connection => "keep-alive,\tupgrade" });
    ok($ws->upgraded, 'tokens with blanks: 101');
    $ws->close;

    $ws = ws(token => undef, path => "$FROM?api_token=$RO->{token}");
    ok($ws->upgraded, 'read-only api_token query parameter: 101');
    $ws->close;
}

refused(ws(headers => { Upgrade => undef }), 400, 'no Upgrade', qr/Upgrade/);
refused(ws(headers => { Upgrade => 'h2c' }), 400, 'Upgrade: h2c',
        qr/Upgrade/);
refused(ws(headers => { Connection => undef }), 400, 'no Connection',
        qr/Connection/);
refused(ws(headers => { Connection => 'keep-alive' }), 400,
        'Connection without upgrade', qr/Connection/);
refused(ws(headers => { Connection => 'upgraded' }), 400,
        'Connection: upgraded is not upgrade', qr/Connection/);

for my $v ([8, '8'], [undef, 'none'], ['13, 8', '"13, 8"'], ['130', '130']) {
    my $ws = ws(version => $v->[0]);
    refused($ws, 426, "Sec-WebSocket-Version $v->[1]", qr/13/);
    is($ws->{headers}{'sec-websocket-version'}, '13',
       "Sec-WebSocket-Version $v->[1]: the answer names 13");
    like($ws->{status_line}, qr/^HTTP\/1\.1 426 Upgrade Required/,
         "Sec-WebSocket-Version $v->[1]: status line");
}

for my $k ([undef, 'missing'], ['', 'empty'],
           ['dGhlIHNhbXBsZSBub25jZQ', 'short'],
           ['dGhlIHNhbXBsZSBub25jZQ==AA', 'long'],
           ['dGhlIHNhbXBsZSBub25jZ!==', 'not base64'],
           ['dGhlIHNhbXBsZSBub25jZQAA', '18 bytes'],
           ['aGVsbG8=', '5 bytes'])
{
    refused(ws(key => $k->[0]), 400, "Sec-WebSocket-Key $k->[1]",
            qr/Sec-WebSocket-Key/);
}

refused(ws(http => '1.0'), 400, 'HTTP/1.0', qr{HTTP/1\.1});
refused(ws(headers => { 'Content-Length' => 5 }, extra => 'hello'), 400,
        'a handshake with a body', qr/body/);
refused(ws(method => 'POST'), 405, 'POST');
refused(ws(token => undef), 401, 'no token');
refused(ws(token => 'nope'), 401, 'unknown token');
refused(ws(token => $OTHER->{token}), 403, 'token of another collection');
refused(ws(token => undef, path => "$FROM?api_token=$RW->{token}"), 400,
        'write token in api_token', qr/read-only/);
refused(ws(path => "/collections/0000000000000/from"), 404,
        'unknown collection');
refused(ws(path => "/collections/$cid2/devices/$did/from"), 404,
        'device of another collection');

# ------------------------------------------------------------ frames

{
    my $ws = ws();
    $ws->send_ping('');
    my $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG && $f->{payload} eq '',
       'empty ping: empty pong');
    ok($f && !$f->{masked} && $f->{fin}, 'pong: unmasked, FIN');

    my $p125 = join '', map { chr(65 + $_ % 26) } 1 .. 125;
    $ws->send_ping($p125);
    $f = $ws->recv_frame;
    is($f && $f->{payload}, $p125, 'ping of 125 bytes: the same pong');

    # a length written in more bytes than needed is still the length: a
    # control frame of 125 bytes or less is fine in any form (RFC 6455
    # 5.5 bounds the payload; the fewest bytes of 5.2 bind the sender)
    $ws->send_frame(opcode => PING, payload => $p125, len16 => 1);
    $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG && $f->{payload} eq $p125,
       'ping of 125 bytes with a 16-bit length: the same pong');
    $ws->send_frame(opcode => PING, payload => 'p64', len64 => 1);
    $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG && $f->{payload} eq 'p64',
       'ping of 3 bytes with a 64-bit length: the same pong');
    $ws->send_frame(opcode => PONG, payload => 'x' x 10, len16 => 1);
    $ws->send_frame(opcode => TEXT, payload => 'short', len16 => 1);

    $ws->send_frame(opcode => PONG, payload => 'unasked');
    $ws->send_frame(opcode => BINARY, payload => "\x00\xff" x 100);
    $ws->send_text('{"type":"hello"}');
    alive($ws, 'unsolicited pong, binary and text messages are ignored');

    # a frame of 300 bytes (16-bit length) one byte at a time, and the
    # handshake's own socket without Nagle, so that each byte goes alone
    setsockopt($ws->sock, IPPROTO_TCP, TCP_NODELAY, 1);
    my $bytes = IoT::WebSocket::frame(opcode => TEXT, payload => 'x' x 300);
    for my $b (split //, $bytes) {
        $ws->send_raw($b);
        Time::HiRes::sleep(0.001);
    }
    alive($ws, 'a frame sent byte by byte');

    # a non-minimal 64-bit length is still a length
    $ws->send_frame(opcode => BINARY, payload => 'abc', len64 => 1);
    alive($ws, 'a 64-bit length field of 3');

    # fragments with control frames between them
    $ws->send_frame(opcode => TEXT, fin => 0, payload => 'frag1 ');
    $ws->send_ping('between');
    $f = $ws->recv_frame;
    is($f && $f->{payload}, 'between',
       'a ping between fragments is answered');
    $ws->send_frame(opcode => CONT, fin => 0, payload => 'frag2 ');
    $ws->send_frame(opcode => PONG, payload => 'x');
    $ws->send_frame(opcode => CONT, fin => 1, payload => 'frag3');
    alive($ws, 'a message in three fragments');

    # a message just under the limit (64k), in fragments
    $ws->send_frame(opcode => BINARY, fin => 0, payload => 'a' x 30000);
    $ws->send_frame(opcode => CONT, fin => 0, payload => 'b' x 30000);
    $ws->send_frame(opcode => CONT, fin => 1, payload => 'c' x 5536);
    alive($ws, 'a message of 65536 bytes in fragments');

    # UTF-8 cut inside characters by the fragments
    my $u = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e";
    $ws->send_frame(opcode => TEXT, fin => 0, payload => substr($u, 0, 2));
    $ws->send_frame(opcode => CONT, fin => 0, payload => substr($u, 2, 7));
    $ws->send_frame(opcode => CONT, fin => 0, payload => substr($u, 9, 3));
    $ws->send_frame(opcode => CONT, fin => 1, payload => substr($u, 12));
    alive($ws, 'valid UTF-8 split inside characters across fragments');

    $ws->send_text("\xef\xbb\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80");
    alive($ws, 'UTF-8 edges (BOM, U+10FFFF, U+D7FF, U+E000)');

    $ws->send_frame(opcode => TEXT, payload => '');
    $ws->send_frame(opcode => TEXT, fin => 0, payload => '');
    $ws->send_frame(opcode => CONT, fin => 1, payload => '');
    alive($ws, 'empty messages and fragments');

    $ws->send_close(1000, 'done');
    closes_with($ws, 1000, 'close 1000 with a reason is echoed');
}

{
    # frames behind the handshake, in the same packet
    my $ws = ws(extra => IoT::WebSocket::frame(opcode => PING,
                                               payload => 'early'));
    ok($ws->upgraded, 'frames sent with the handshake: 101');
    my $f = $ws->recv_frame;
    is($f && $f->{payload}, 'early', 'and the ping behind it is answered');
    $ws->close;
}

# protocol errors: each closes with a code
my @bad = (
    [ 'unmasked frame', 1002, qr/mask/,
      frame(opcode => TEXT, payload => 'hi', mask => 0) ],
    [ 'unmasked ping', 1002, qr/mask/,
      frame(opcode => PING, payload => 'hi', mask => 0) ],
    [ 'RSV1 set', 1002, qr/reserved/,
      frame(opcode => TEXT, payload => 'hi', rsv => 4) ],
    [ 'RSV3 set', 1002, qr/reserved/,
      frame(opcode => PING, payload => 'hi', rsv => 1) ],
    [ 'opcode 3', 1002, qr/opcode/, frame(opcode => 3, payload => 'x') ],
    [ 'opcode 7', 1002, qr/opcode/, frame(opcode => 7) ],
    [ 'opcode 0xB', 1002, qr/opcode/, frame(opcode => 0xb) ],
    [ 'opcode 0xF', 1002, qr/opcode/, frame(opcode => 0xf) ],
    [ 'ping of 126 bytes', 1002, qr/125/,
      frame(opcode => PING, payload => 'p' x 126) ],
    [ 'close of 126 bytes', 1002, qr/125/,
      frame(opcode => CLOSE, payload => pack('n', 1000) . 'r' x 124) ],
    [ 'ping of 126 bytes in a 64-bit length', 1002, qr/125/,
      frame(opcode => PING, payload => 'p' x 126, len64 => 1) ],
    [ 'pong announcing 2^40 bytes', 1002, qr/125/,
      "\x8a\xff" . pack('Q>', 2**40) . "mask" ],
    [ 'fragmented ping', 1002, qr/fragmented control/,
      frame(opcode => PING, fin => 0, payload => 'x') ],
    [ 'fragmented close', 1002, qr/fragmented control/,
      frame(opcode => CLOSE, fin => 0, payload => pack('n', 1000)) ],
    [ 'continuation without a message', 1002, qr/continuation/,
      frame(opcode => CONT, payload => 'x') ],
    [ 'a text message inside a fragmented one', 1002, qr/inside/,
      frame(opcode => TEXT, fin => 0, payload => 'a')
      . frame(opcode => TEXT, payload => 'b') ],
    [ 'a binary message inside a fragmented one', 1002, qr/inside/,
      frame(opcode => BINARY, fin => 0, payload => 'a')
      . frame(opcode => BINARY, fin => 0, payload => 'b') ],
    [ '64-bit length with the top bit set', 1002, qr/63 bits/,
      "\x82\xff\x80" . "\0" x 7 . "mask" ],
    [ 'message over 64k in one frame', 1009, qr/too big/,
      frame(opcode => BINARY, payload => 'z' x 65537) ],
    [ 'message over 64k in fragments', 1009, qr/too big/,
      frame(opcode => TEXT, fin => 0, payload => 'z' x 40000)
      . frame(opcode => CONT, payload => 'z' x 40000) ],
    [ 'a frame announcing 2^40 bytes', 1009, qr/too big/,
      "\x82\xff" . pack('Q>', 2**40) . "mask" ],
    [ 'overlong UTF-8 (C0 80)', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "a\xc0\x80") ],
    [ 'overlong UTF-8 (E0 80 80)', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "\xe0\x80\x80") ],
    [ 'UTF-8 surrogate (ED A0 80)', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "\xed\xa0\x80") ],
    [ 'UTF-8 over U+10FFFF (F4 90 80 80)', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "\xf4\x90\x80\x80") ],
    [ 'UTF-8 byte FF', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "ok\xff") ],
    [ 'a lone continuation byte', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "\x80") ],
    [ 'a text ending inside a character', 1007, qr/UTF-8/,
      frame(opcode => TEXT, payload => "euro \xe2\x82") ],
    [ 'invalid UTF-8 in a later fragment', 1007, qr/UTF-8/,
      frame(opcode => TEXT, fin => 0, payload => "fine \xe2")
      . frame(opcode => CONT, payload => "\x28\xa1") ],
    [ 'a close of one byte', 1002, qr/one byte/,
      frame(opcode => CLOSE, payload => "\x03") ],
    [ 'a close reason that is not UTF-8', 1007, qr/UTF-8/,
      frame(opcode => CLOSE, payload => pack('n', 1000) . "\xff\xfe") ],
);

for my $code (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
              5000, 65535)
{
    push @bad, [ "close code $code", 1002, qr/close code/,
                 frame(opcode => CLOSE, payload => pack('n', $code)) ];
}

for my $b (@bad) {
    my ($name, $code, $re, $bytes) = @$b;
    my $ws = ws();
    $ws->send_raw($bytes);
    closes_with($ws, $code, $name, $re);
}

# close codes a client may send are echoed
for my $code (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
              1014, 3000, 3999, 4000, 4999)
{
    my $ws = ws();
    $ws->send_close($code, "bye \xc3\xa9");
    closes_with($ws, $code, "close code $code from the client");
}

{
    my $ws = ws();
    $ws->send_close();
    my $f = $ws->wait_close;
    ok($f && $f->{payload} eq '', 'an empty close is answered with one');
    ok($ws->wait_eof, 'empty close: the connection is closed');
    $ws->close;
}

{
    # nothing is answered after a close, and frames after it are ignored
    my $ws = ws();
    $ws->send_raw(frame(opcode => CLOSE, payload => pack('n', 1000))
                  . frame(opcode => PING, payload => 'after'));
    my $f = $ws->recv_frame;
    ok($f && $f->{opcode} == CLOSE, 'close then ping: the close answer');
    ok(!$ws->recv_frame(1) && $ws->{eof}, 'and no pong, the end');
    $ws->close;
}

{
    # a client that goes without a close frame
    my @ws = map { ws() } 1 .. 20;
    ok(!(grep { !$_->upgraded } @ws), '20 streams open');
    $_->send_raw(frame(opcode => TEXT, fin => 0, payload => 'half'))
        for @ws[0 .. 9];
    $_->close for @ws;
    my $ws = ws();
    alive($ws, 'after 20 clients vanished');
    $ws->close;
}

# ------------------------------------------------------------ limits

{
    my $ws = ws(path => "/small/collections/$cid/from");
    $ws->send_frame(opcode => TEXT, payload => 'k' x 1024);
    alive($ws, 'iot_ws_max_message 1k: 1024 bytes pass');
    $ws->send_frame(opcode => TEXT, payload => 'k' x 1025);
    closes_with($ws, 1009, 'iot_ws_max_message 1k: 1025 bytes',
                qr/too big/);
}

{
    my $ws = ws(path => "/ka/collections/$cid/from");
    my @f = grep { defined } map { $ws->recv_frame(5) } 1 .. 2;
    is(scalar @f, 2, 'iot_ws_keepalive 200ms: two frames');
    ok(!(grep { $_->{opcode} != TEXT || $_->{payload} ne '{"type":"keepAlive"}'
               || $_->{masked} || !$_->{fin} } @f),
       'keep-alive frames are unmasked text {"type":"keepAlive"}')
        or diag(explain \@f);
    alive($ws, 'keep-alive');
    $ws->send_close(1000);
    my $c = $ws->wait_close;
    is($c && $c->{code}, 1000, 'keep-alive: closed on request');
    $ws->close;
}

{
    # a client that does not read: the queue passes iot_ws_send_buffer
    my $ws = IoT::WebSocket->connect(port => $slow_port, path => $FROM,
                                     token => $t->admin_token,
                                     rcvbuf => 2048);
    ok($ws->upgraded, 'slow reader: 101');
    sleep 3;
    my $f = $ws->wait_close(20);
    ok($f && @{ $f->{skipped} } > 10, 'slow reader: keep-alives, then')
        or diag(scalar @{ $f ? $f->{skipped} : [] });
    is($f && $f->{code}, 1008, 'slow reader: close 1008');
    like($f ? $f->{reason} : '', qr/slow/, 'slow reader: the reason');
    $ws->send_close(1000);
    ok($ws->wait_eof, 'slow reader: then the connection is closed');
    $ws->close;
    like($t->log_slice, qr/reads too slowly/, 'slow reader: logged');
}

$t->check_log('frames');

# ------------------------------------------------------------ reload, stop

{
    my $polite = ws();
    my $mute = ws();
    my $idle = ws(path => "/collections/$cid/devices/$did/from");
    ok($polite->upgraded && $mute->upgraded && $idle->upgraded,
       'reload: three streams open');
    $idle->send_frame(opcode => TEXT, fin => 0, payload => 'half way');

    my %old = map { $_ => 1 } $t->workers;
    kill 'HUP', $t->pid;

    my $f = $polite->wait_close(20);
    is($f && $f->{code}, 1001, 'reload: close 1001');
    like($f ? $f->{reason} : '', qr/going away/, 'reload: "going away"');
    $polite->send_close(1001);
    ok($polite->wait_eof, 'reload: closed once the client answered');

    $f = $idle->wait_close(20);
    is($f && $f->{code}, 1001, 'reload: mid-message stream gets 1001 too');
    $idle->send_close(1000);
    ok($idle->wait_eof, 'reload: and is closed');

    $f = $mute->wait_close(20);
    is($f && $f->{code}, 1001, 'reload: a client that does not answer');
    ok($mute->wait_eof(20), 'reload: is closed after lingering_timeout');

    ok(wait_until(sub { !grep { $old{$_} } $t->workers }, 30),
       'reload: the old workers are gone');
    $_->close for $polite, $mute, $idle;

    my $ws = ws();
    alive($ws, 'after the reload');
    $ws->close;
}

$t->check_log('reload');

{
    my $ws = ws();
    ok($ws->upgraded, 'stop: a stream open');
    kill 'QUIT', $t->pid;
    my $f = $ws->wait_close(20);
    is($f && $f->{code}, 1001, 'stop: close 1001');
    $ws->send_close(1001);
    ok($ws->wait_eof, 'stop: closed');
    $ws->close;
}

$t->finish;
done_testing;

sub frame { IoT::WebSocket::frame(@_) }
