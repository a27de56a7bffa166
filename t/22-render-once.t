#!/usr/bin/perl
# A data message is rendered once per dialect per worker, however many
# live streams of that dialect the worker has: with four streams of one
# worker (three of the collection, one of the device) every message is
# rendered once (the bus logs each rendering at debug level), and every
# stream gets the same text.  With no stream, nothing is rendered.

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
use IoT::WebSocket;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'render-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 1, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = ($api->call(POST => '/collections', body => {}))[1]{collectionId};
my $D = ($api->call(POST => "/collections/$cid/devices",
                    body => { imsi => $t->next_imsi,
                              imei => $t->next_imei }))[1];
my $did = $D->{deviceId};
my $ADDR = '127.0.0.30';
my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = $ADDR, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"r1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device is attached');

my $sock = IO::Socket::INET->new(LocalAddr => $ADDR, LocalPort => 0,
                                 Proto => 'udp') or die $!;
sub send_up {
    $sock->send($_[0], 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
}

my $RENDERED = qr/iot bus: message (\d+) of device \d+ rendered/;

sub renderings { my @s = ($_[0] =~ /$RENDERED/g); return @s }

# no stream: the message is stored, nothing is rendered
$t->log_mark;
send_up('nobody-listens');
ok(IoT::Test::wait_until(sub {
       my $l = ($api->call(GET => "/collections/$cid/data"))[1];
       $l && @{ $l->{messages} || [] } == 1 }), 'the message is in the history');
is(scalar renderings($t->log_slice), 0, 'no stream: not rendered');

# three streams of the collection and one of the device, one worker
my @ws;
for my $path (("/collections/$cid/from") x 3,
              "/collections/$cid/devices/$did/from")
{
    my $ws = IoT::WebSocket->connect(port => $t->port, path => $path,
                                     token => $t->admin_token);
    is($ws->{status}, 101, "stream $path open");
    push @ws, $ws;
}

sub collect {
    my ($ws, $want) = @_;
    my @got;
    while (@got < $want) {
        my $f = $ws->recv_frame;
        last unless $f;
        next unless $f->{opcode} == 1;
        my $m = json_decode($f->{payload});
        next unless $m && $m->{type} eq 'data';
        push @got, $f->{payload};
    }
    return @got;
}

$t->log_mark;
my @sent = map { "once-$_" } 1 .. 6;
for my $p (@sent) {
    send_up($p);
    select(undef, undef, undef, 0.01);
}

my @texts;
for my $i (0 .. $#ws) {
    my @got = collect($ws[$i], scalar @sent);
    is_deeply([ map { decode_base64(json_decode($_)->{payload}) }
                @got ], \@sent, "stream $i: every message, in order");
    push @texts, \@got;
}

for my $i (1 .. $#texts) {
    is_deeply($texts[$i], $texts[0], "stream $i got the same text as stream 0");
}

my @seq = renderings($t->log_slice);
is(scalar @seq, scalar @sent, 'four streams, one rendering per message')
    or diag(scalar(@seq) . ' renderings');
my %once;
$once{$_}++ for @seq;
ok(!(grep { $_ != 1 } values %once), '... each message rendered once');

$_->send_close(1000) for @ws;

$t->check_log('render once');
$t->finish;
done_testing;
