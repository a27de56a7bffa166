#!/usr/bin/perl
# Limits on live streams (docs/websocket.md, "Limits"): per token and per
# collection across both workers (429), per worker a share of
# worker_connections (503), each refusal an HTTP answer in the dialect's
# error format instead of an upgrade; a closed stream gives its place back
# at once, and so do the streams of a worker killed with kill -9; the API
# keeps answering; bad values are refused at start.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::WebSocket;

my $t = IoT::Test->new(workers => 2, http_conf => <<'EOF');
    iot_ws_streams_per_token 2;
    iot_ws_streams_per_collection 3;
    iot_ws_streams_per_worker 4;
EOF
my $api = IoT::Collections->new($t);
$t->start;

sub token {
    my ($cid) = @_;
    return $api->create_token({ resource => "/collections/$cid" })->{token};
}

sub ws {
    my ($cid, $tok) = @_;
    return IoT::WebSocket->connect(port => $t->port,
                                   path => "/collections/$cid/from",
                                   token => $tok);
}

sub worker { $_[0]{headers}{'x-worker'} // '?' }

# a refused handshake: the status, no upgrade, the dialect's JSON error
sub refused {
    my ($ws, $status, $re, $name) = @_;
    my $ok = is($ws->{status}, $status, "$name: $status");
    like($ws->{headers}{'content-type'} // '', qr{^application/json},
         "$name: JSON");
    my $j = eval { json_decode($ws->{body} // '') } || {};
    $ok &= is($j->{status}, $status, "$name: status in the body");
    $ok &= like($j->{message} // '', $re, "$name: the message says why");
    ok(!$ws->{headers}{upgrade}, "$name: no upgrade");
    diag("$ws->{status_line}\n" . ($ws->{body} // '')) unless $ok;
    $ws->close;
}

# handshakes until each worker has refused one with $status; none may
# succeed (each refusal leaves the counts as they were)
sub refused_by_both {
    my ($cid, $tok, $status, $re, $name) = @_;
    my (%by, $upgraded);
    for (1 .. 200) {
        my $ws = ws($cid, $tok);
        if ($ws->{status} == 101) {
            $upgraded = $ws;
            last;
        }
        $by{ worker($ws) }++;
        refused($ws, $status, $re, $name) if $by{ worker($ws) } == 1;
        $ws->close;
        last if keys %by >= 2;
    }
    ok(!$upgraded, "$name: no stream opened in either worker");
    cmp_ok(scalar keys %by, '>=', 2, "$name: refused by both workers");
    $upgraded->close if $upgraded;
}

sub close_stream {
    my ($ws) = @_;
    $ws->send_close(1000);
    my $c = $ws->wait_close;
    ok($c && $c->{code} == 1000, 'closed with 1000');
    ok($ws->wait_eof, 'and the connection with it');
}

my @C = map { $api->create_collection->{collectionId} } 1 .. 8;

# ---- per token, in all workers together
my $t1 = token($C[0]);
my @s1 = map { ws($C[0], $t1) } 1 .. 2;
is($_->{status}, 101, 'a stream within the token limit') for @s1;
refused_by_both($C[0], $t1, 429, qr/API token has 2 streams open/,
                'a third stream of the token');

# a closed stream gives its place back
close_stream(shift @s1);
my $again = ws($C[0], $t1);
is($again->{status}, 101, 'after one closed, the token opens one again');
push @s1, $again;
refused(ws($C[0], $t1), 429, qr/API token/, 'and not one more');

# ---- per collection: any token, the admin token too
my $t2 = token($C[0]);
my $s2 = ws($C[0], $t2);
is($s2->{status}, 101, "another token's stream: three on the collection");
refused_by_both($C[0], $t2, 429, qr/collection has 3 streams open/,
                'a fourth stream of the collection');
refused(ws($C[0], $t->admin_token), 429, qr/collection/,
        "the admin token's stream over the collection's limit");
my $s3 = ws($C[1], $t->admin_token);
is($s3->{status}, 101, 'the admin token streams another collection');

close_stream($_) for @s1, $s2, $s3;

# ---- a worker killed with its streams open gives their places back
{
    my $tok = token($C[2]);
    my @s = map { ws($C[2], $tok) } 1 .. 2;
    is($_->{status}, 101, 'a stream of the token to be killed') for @s;
    refused(ws($C[2], $tok), 429, qr/API token/, 'the token is at its limit');
    my %pids = map { worker($_) => 1 } @s;
    $t->kill_worker($_) for sort keys %pids;
    ok($_->wait_eof, 'the killed worker took its stream along') for @s;
    my @n = map { ws($C[2], $tok) } 1 .. 2;
    is($_->{status}, 101, 'the token streams again after the kill') for @n;
    refused(ws($C[2], $tok), 429, qr/API token/, 'up to its limit');
    close_stream($_) for @n;
}
$t->check_log('kill -9', allow => [qr/worker process \d+ exited on signal 9/,
                                   qr/shared memory zone .* was locked/]);

# ---- per worker: 4 streams each, the API still answers
{
    my (%count, %full, @open);
    my $i = 0;
    for (1 .. 200) {
        # each token and collection far from its own limit
        my $cid = $C[3 + int($i / 2) % 5];
        my $tok = token($cid);
        my $ws = ws($cid, $tok);
        my $w = worker($ws);
        if ($ws->{status} == 101) {
            push @open, $ws;
            $count{$w}++;
            $i++;
        } else {
            refused($ws, 503, qr/as many streams open as it may/,
                    "worker $w full") unless $full{$w}++;
        }
        last if keys %full >= 2;
    }
    cmp_ok(scalar keys %full, '>=', 2, 'both workers refused a fifth stream');
    is_deeply([sort values %count], [4, 4], 'each worker took 4 streams')
        or diag(explain(\%count));
    my $all = $api->req_all_workers(GET => '/collections');
    my @st = map { $_->{status} } map { @$_ } values %$all;
    ok(@st && !grep({ $_ != 200 } @st),
       'the API answers in both workers while they are full');
    like($t->read_log, qr/\[warn\].*this worker has 4 streams open/,
         'a full worker says so in the error log');
    close_stream($_) for @open;
}

$t->finish(allow => [qr/worker process \d+ exited on signal 9/]);

# ---- bad values are refused at start
for my $b (['iot_ws_streams_per_token 0;', qr/equal to or greater than 1/],
           ['iot_ws_streams_per_collection x;', qr/invalid number/],
           ['iot_ws_streams_per_worker 0;', qr/percentage/],
           ['iot_ws_streams_per_worker 101%;', qr/percentage/],
           ['iot_ws_streams_per_worker 10%; iot_ws_streams_per_worker 5;',
            qr/is duplicate/]) {
    my ($conf, $re) = @$b;
    my $bad = IoT::Test->new(http_conf => $conf);
    my $st = $bad->start_should_fail;
    ok(defined $st && $st != 0, "\"$conf\": nginx refuses to start");
    like($bad->log_slice, qr/\[emerg\][^\n]*$re/, "\"$conf\": the [emerg] says why");
}

# ---- a percentage of worker_connections
{
    my $pct = IoT::Test->new(workers => 1,
                             http_conf => "iot_ws_streams_per_worker 1%;\n");
    my $papi = IoT::Collections->new($pct);
    $pct->start;
    my $cid = $papi->create_collection->{collectionId};
    # 1% of 1024 connections: 10 streams
    my @s = map {
        IoT::WebSocket->connect(port => $pct->port,
                                path => "/collections/$cid/from",
                                token => $pct->admin_token)
    } 1 .. 10;
    is(scalar(grep { $_->{status} == 101 } @s), 10, '1%: ten streams');
    my $one = IoT::WebSocket->connect(port => $pct->port,
                                      path => "/collections/$cid/from",
                                      token => $pct->admin_token);
    is($one->{status}, 503, '1%: not an eleventh');
    $_->close for @s, $one;
    $pct->finish;
}

done_testing;
