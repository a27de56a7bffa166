#!/usr/bin/perl
# A worker killed while it holds the message bus's lock (in
# ngx_iot_bus_publish, between taking the lock and letting it go): the lock
# is taken back from the dead holder, so the other worker and the one the
# master starts in its place go on publishing and answering.  gdb stops the
# worker on the line that ends the record's write, inside the lock, and
# kills it there.

use strict;
use warnings;
use Test::More;
use POSIX ();
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Radius qw(radclient);

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};
plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

# the line of ngx_iot_bus_publish that runs with the lock held
my $src = IoT::Test::root() . '/ngx_iot_module/ngx_iot_bus.c';
open my $fh, '<', $src or die "$src: $!";
my ($line, $in);
while (<$fh>) {
    $in = 1 if /^ngx_iot_bus_publish\(/;
    if ($in && /^\s+bus->head = end;/) { $line = $.; last }
}
close $fh;
die "no \"bus->head = end;\" in ngx_iot_bus_publish" unless $line;

my $SECRET = 'bus-lock-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.31, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"b1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'attached');

# each datagram from a socket of its own: the kernel spreads the source
# ports over both workers' sockets
sub uplink {
    my ($payload) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.31', LocalPort => 0,
                                  Proto => 'udp') or die $!;
    $s->send($payload, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
}

my ($w) = $t->workers;
my $gdb = $t->gdb($w, ["break ngx_iot_bus.c:$line", 'continue', 'kill'],
                  timeout => 60);
ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), 'gdb attached');
sleep 2;    # the breakpoint is set and the worker runs again

# uplinks until one reaches the worker gdb holds
my $kid = fork // die;
if ($kid == 0) {
    for my $n (1 .. 400) {
        uplink("before $n");
        select(undef, undef, undef, 0.05);
    }
    POSIX::_exit(0);
}

my $trace = do { local $/; <$gdb> };
close $gdb;
kill 'KILL', $kid;
waitpid $kid, 0;

like($trace, qr/Breakpoint 1, ngx_iot_bus_publish/,
     'the worker stopped with the bus locked, and was killed there');

ok(IoT::Test::wait_until(sub {
    my @w = $t->workers;
    return @w == 2 && !grep { $_ == $w } @w;
}, 30), 'the master started a new worker');

# both workers publish again: every uplink after the kill is recorded
my @after = map { "after $_" } 1 .. 20;
uplink($_) for @after;

my %got;
ok(IoT::Test::wait_until(sub {
    my ($s, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return 0 unless $s == 200 && $j;
    %got = map { decode_base64($_->{payload}) => 1 } @{ $j->{messages} };
    return !grep { !$got{$_} } @after;
}, 30), 'every uplink sent after the kill is in the history')
    or diag(join ' ', sort keys %got);

my %answered;
for (1 .. 20) {
    my $r = $api->req(GET => '/');
    $answered{$r->{status}}++;
}
is_deeply(\%answered, { 200 => 20 }, 'every request is answered');

like($t->read_log, qr/a lock held by process $w, which is gone, was taken back/,
     'the log says the lock was taken back');

$t->check_log('bus lock', allow => [qr/exited on signal 9/]);
$t->finish;
done_testing;
