#!/usr/bin/perl
# A webhook output against a local HTTP receiver: every uplink of the
# collection arrives once, in each device's order, as POSTs of
# {"messages":[...]} rendered as the collections dialect renders them (the
# collection's field mask applied), with basic auth and the custom header;
# a failing receiver is retried with back-off and gets what waited, as a
# batch, once it answers again; a full queue drops the oldest, counted in
# status and said in logs; a disabled output sends nothing; reloads and a
# restart keep outputs running, from where they were.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Sink;
use IoT::Metrics;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'HTTP::Daemon is not installed'
    unless eval { require HTTP::Daemon; 1 };

my $SECRET = 'outputs-secret';
my $QUEUE = 100;
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2,
    server_conf => "location = /metrics { iot_metrics; }\n",
    main_conf => <<"EOF", stream_conf => <<"EOF2");
iot_outputs_private_destinations on;
iot_outputs_queue $QUEUE;
EOF
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF2
my $api = IoT::Collections->new($t);
$t->start;

# a series of the metrics endpoint (docs/metrics.md); -1 when not there
sub metric {
    my ($name, %l) = @_;
    my ($m) = IoT::Metrics::parse(($t->http(GET => '/metrics'))[2]);
    return ($m ? IoT::Metrics::value($m, $name, \%l) : undef) // -1;
}

# the round's metrics are counted just after its status is stored: the
# value it reaches (or the last one seen)
sub metric_is {
    my ($want, $name, %l) = @_;
    my $got;
    wait_until(sub { ($got = metric($name, %l)) == $want }, 10);
    return $got;
}

my $hook = IoT::Sink->http($t);

my ($st, $C) = $api->call(POST => '/collections',
                          body => { fieldMask => { imsi => JTRUE } });
my $cid = $C->{collectionId};

my @dev;
for my $i (0 .. 2) {
    my $imsi = $t->next_imsi;
    my ($sd, $d) = $api->call(POST => "/collections/$cid/devices",
                              body => { imsi => $imsi,
                                        imei => $t->next_imei });
    $d->{imsi} = $imsi;    # the answer masks it
    my $addr = '127.0.0.' . (30 + $i);
    my ($exit, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Framed-IP-Address = $addr, "
        . "3GPP-IMSI = \"$d->{imsi}\", Acct-Session-Id = \"o$i\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, "device $i attached");
    $d->{sock} = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                       Proto => 'udp') or die $!;
    push @dev, $d;
}

my $seq = 0;
sub uplink {
    my ($i) = @_;
    my $p = "d$i-" . ++$seq;
    $dev[$i]{sock}->send($p, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.002);
    return $p;
}

# the messages the receiver took, in the order it took them
sub delivered {
    my @m;
    for my $r ($hook->received) {
        my $j = json_decode($r->{body});
        push @m, @{ $j->{messages} } if $j && ref $j->{messages} eq 'ARRAY';
    }
    return @m;
}

sub payloads { map { decode_base64($_->{payload}) } @_ }

# the same messages, each device's in the order it sent them (only that
# order is kept across devices, whose datagrams two workers take in)
sub same_per_device {
    my ($got, $want, $name) = @_;
    my $ok = is(scalar @$got, scalar @$want, "$name: each once");
    for my $i (0 .. 2) {
        $ok &= is_deeply([grep { /^d$i-/ } @$got], [grep { /^d$i-/ } @$want],
                         "$name: device $i in its order");
    }
    return $ok;
}

sub status {
    my ($oid) = @_;
    my (undef, $j) = $api->call(GET => "/collections/$cid/outputs/$oid/status");
    return $j // {};
}

my ($so, $O) = $api->call(POST => "/collections/$cid/outputs", body => {
    type => 'webhook',
    config => { url => "http://127.0.0.1:$hook->{port}/hook?x=1",
                basicAuthUser => 'hooker', basicAuthPass => 'p4ss:word',
                customHeaderName => 'X-Hook-Key',
                customHeaderValue => 'k-123' } });
is($so, 201, 'webhook output made');
my $oid = $O->{outputId};

# the delivering worker picks the output up within a second or so: wait
# until a first message has come through, then send the rest
my @sent = (uplink(0));
ok(wait_until(sub { delivered() >= 1 }, 30), 'first message delivered');

# ------------------------------------------------------------ delivery

for my $n (1 .. 20) {
    push @sent, uplink($_) for 0 .. 2;
}
ok(wait_until(sub { delivered() >= @sent }, 60), 'all delivered')
    or diag(scalar(delivered()) . " of " . scalar(@sent));

my @got = delivered();
my @p = payloads(@got);
is(scalar @got, scalar @sent, 'each message once');
is_deeply([sort @p], [sort @sent], 'the messages sent');
for my $i (0 .. 2) {
    my @mine = grep { /^d$i-/ } @p;
    my @want = grep { /^d$i-/ } @sent;
    is_deeply(\@mine, \@want, "device $i in its order");
}

my $m = $got[1];
is($m->{type}, 'data', 'a data message');
is($m->{transport}, 'udp', 'its transport');
ok($m->{received} > 0, 'received time');
ok(ref $m->{udpMetaData} eq 'HASH' && $m->{udpMetaData}{localPort} == $up,
   'udp metadata');
is($m->{device}{collectionId}, $cid, 'the device of the collection');
is($m->{device}{imsi}, '', 'the field mask hides the IMSI');
ok(length $m->{device}{imei}, 'the IMEI is not masked');

my @req = $hook->received;
is($req[0]{method}, 'POST', 'POST');
is($req[0]{path}, '/hook', 'the path of the URL');
like($req[0]{headers}{'content-type'}, qr{^application/json}, 'JSON');
is($req[0]{headers}{authorization},
   'Basic ' . MIME::Base64::encode_base64('hooker:p4ss:word', ''),
   'basic auth');
is($req[0]{headers}{'x-hook-key'}, 'k-123', 'the custom header');
my $body = json_decode($req[0]{body});
ok($body && ref $body->{messages} eq 'ARRAY', '{"messages":[...]}');

# the round stores its counts once the receiver has answered
ok(wait_until(sub { (status($oid)->{forwarded} // 0) == @sent }, 30),
   'status: forwarded');
my $s = status($oid);
is($s->{received}, scalar @sent, 'status: received');
is($s->{errorCount}, 0, 'status: no errors');
is(metric_is(scalar @sent, 'nginx_iot_output_messages_total',
             type => 'webhook', result => 'forwarded'),
   scalar @sent, 'metrics: forwarded');
is(metric('nginx_iot_output_errors_total', type => 'webhook'), 0,
   'metrics: no errors');

# ------------------------------------------------------------ retries

$hook->fail(1);
my $before = () = delivered();
my @later = map { uplink($_ % 3) } 1 .. 9;
ok(wait_until(sub { (status($oid)->{errorCount} // 0) >= 2 }, 60),
   'a failing receiver counts errors');
ok(wait_until(sub { (status($oid)->{retries} // 0) >= 1 }, 60),
   'and is retried');
ok(wait_until(sub { metric('nginx_iot_output_errors_total',
                           type => 'webhook') >= 2 }, 10),
   'metrics: the failed rounds');
my (undef, $logs) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
ok((grep { $_->{message} =~ /answered 500/ } @{ $logs->{logs} }),
   'the log says why') or diag(json_encode($logs));
ok((grep { $_->{repeated} >= 1 } @{ $logs->{logs} }),
   'a repeated failure is counted, not logged again');
ok((grep { $_->{time} > 0 && $_->{timestamp} == $_->{time} }
    @{ $logs->{logs} }), 'entries have their time');
is(scalar(() = delivered()), $before, 'nothing recorded while failing');

$hook->fail(0);
ok(wait_until(sub { delivered() >= $before + @later }, 90),
   'delivered once the receiver is back');
@got = delivered();
same_per_device([payloads(@got[$before .. $#got])], \@later,
                'what waited');
my @after = $hook->received;
ok((grep { @{ json_decode($_->{body})->{messages} } > 1 } @after),
   'what waited went in batches');

# ------------------------------------------------------------ the queue

$hook->fail(1);
$before = () = delivered();
my $base = status($oid);
my @burst = map { uplink(0) } 1 .. ($QUEUE + 15);
ok(wait_until(sub { (status($oid)->{dropped} // 0)
                    - ($base->{dropped} // 0) >= 15 }, 90),
   'a full queue drops');
$hook->fail(0);
ok(wait_until(sub { delivered() >= $before + $QUEUE }, 90),
   'the queue is delivered');
sleep 2;
@got = delivered();
is(scalar(@got) - $before, $QUEUE, 'exactly the queue');
is_deeply([payloads(@got[$before .. $#got])], [@burst[15 .. $#burst]],
          'the newest, in order');
# nothing waits now: once the last round has stored its counts, every
# message taken in is forwarded or dropped
ok(wait_until(sub { my $x = status($oid);
                    ($x->{received} // -1)
                        == ($x->{forwarded} // 0) + ($x->{dropped} // 0) },
              30), 'received = forwarded + dropped');
$s = status($oid);
is($s->{dropped} - ($base->{dropped} // 0), 15, 'status counts the dropped');
is(metric_is($s->{dropped}, 'nginx_iot_output_messages_total',
             type => 'webhook', result => 'dropped'),
   $s->{dropped}, 'metrics: the dropped');
is(metric_is($s->{forwarded}, 'nginx_iot_output_messages_total',
             type => 'webhook', result => 'forwarded'),
   $s->{forwarded}, 'metrics: the forwarded');
(undef, $logs) = $api->call(GET => "/collections/$cid/outputs/$oid/logs");
ok((grep { $_->{message} =~ /15 messages dropped/ } @{ $logs->{logs} }),
   'the log says what was dropped') or diag(json_encode($logs));

# ------------------------------------------------------------ disabled

$api->call(PATCH => "/collections/$cid/outputs/$oid",
           body => { enabled => JFALSE });
sleep 2;
my @quiet = map { uplink(1) } 1 .. 3;
sleep 2;
$api->call(PATCH => "/collections/$cid/outputs/$oid",
           body => { enabled => JTRUE });
sleep 2;
$before = () = delivered();
my @loud = map { uplink(1) } 1 .. 3;
ok(wait_until(sub { delivered() >= $before + 3 }, 60),
   'enabled again: delivers');
my %seen = map { $_ => 1 } payloads(delivered());
ok(!(grep { $seen{$_} } @quiet), 'nothing of the time it was disabled');
ok(!(grep { !$seen{$_} } @loud), 'what came after');

# ------------------------------------------------------------ reload

$before = () = delivered();
my @around;
push @around, uplink($_ % 3) for 1 .. 10;
$t->reload;
push @around, uplink($_ % 3) for 1 .. 10;
$t->reload;
push @around, uplink($_ % 3) for 1 .. 10;
ok(wait_until(sub { delivered() >= $before + @around }, 90),
   'delivered across reloads');
sleep 2;
@got = delivered();
same_per_device([payloads(@got[$before .. $#got])], \@around,
                'across reloads');

# ------------------------------------------------------------ restart

$hook->fail(1);
$before = () = delivered();
my @pending = map { uplink(2) } 1 .. 5;
ok(wait_until(sub { (status($oid)->{errorCount} // 0) > $s->{errorCount} },
              60), 'failing before the restart');
$t->restart;
$hook->fail(0);
ok(wait_until(sub { delivered() >= $before + 5 }, 90),
   'what waited is delivered after a restart');
sleep 2;
@got = delivered();
is_deeply([payloads(@got[$before .. $#got])], \@pending,
          'once each, in order, after a restart');

$hook->stop;
$t->finish;
done_testing;
