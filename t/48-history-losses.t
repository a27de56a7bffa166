#!/usr/bin/perl
# Every uplink taken in is either in the history or counted as unrecorded
# ($iot_uplink_stats): also the batch a worker had not written yet when it
# was killed (gdb stops its history writer at the first row of a batch and
# kills it there).  And iot_history_max_count holds under load from both
# workers: the trim does not lose to their writers ("database is locked").

use strict;
use warnings;
use Test::More;
use POSIX ();
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'loss-secret';
my $MAX = 50;

# the datagrams the kernel dropped at the sockets of a UDP port
# (/proc/net/udp: the last column)
sub udp_drops {
    my ($port) = @_;
    my $hex = sprintf ':%04X', $port;
    open my $fh, '<', '/proc/net/udp' or return 0;
    my $n = 0;
    while (<$fh>) {
        my @f = split;
        $n += $f[-1] if @f > 2 && $f[1] =~ /\Q$hex\E\z/;
    }
    return $n;
}

sub setup {
    my (%o) = @_;
    my $acct = IoT::Test::free_port('udp');
    my $up = IoT::Test::free_port('udp');
    my $stats = IoT::Test::free_port('tcp');
    my $t = IoT::Test->new(workers => 2, main_conf => $o{main_conf} // '',
                           stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport rcvbuf=8m; iot_uplink; }
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
    my $api = IoT::Collections->new($t);
    $t->start;
    my $cid = $api->create_collection->{collectionId};
    my $D = $api->create_device($cid);
    my (undef, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.51, "
        . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"l1\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, 'attached');
    # sockets of their own: the kernel spreads them over both workers
    my @s = map {
        IO::Socket::INET->new(LocalAddr => '127.0.0.51', LocalPort => 0,
                              Proto => 'udp') or die $!
    } 1 .. 16;
    my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
    my $n = 0;
    my $send = sub { my $sock = $s[$n++ % @s]; $sock->send($_[0], 0, $to) };
    my $counters = sub {
        my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $stats, Proto => 'tcp',
                                      Timeout => 10) or return {};
        local $/;
        return json_decode(<$c> // '') // {};
    };
    my $stored = sub {
        my ($s, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
        return ($s == 200 && $j) ? scalar @{ $j->{messages} } : -1;
    };
    return ($t, $api, $send, $counters, $stored, $up);
}

# ---- a worker killed with a batch it has not written
SKIP: {
    skip 'gdb is not installed', 6 unless -x $IoT::Test::GDB;
    skip 'not under valgrind', 6 if $ENV{IOT_TEST_VALGRIND};

    my ($t, $api, $send, $counters, $stored) = setup();

    $send->("warm $_") for 1 .. 20;
    ok(IoT::Test::wait_until(sub { $stored->() == 20 }, 20),
       'uplinks are recorded');

    my ($w) = $t->workers;
    my $gdb = $t->gdb($w, ['break ngx_iot_store_history_add', 'continue',
                           'kill'], timeout => 60);
    ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), 'gdb attached');
    sleep 2;

    my $kid = fork // die;
    if ($kid == 0) {
        for my $n (1 .. 300) {
            $send->("cut $n") for 1 .. 5;
            sleep 0.05;
        }
        POSIX::_exit(0);
    }
    my $trace = do { local $/; <$gdb> };
    close $gdb;
    kill 'KILL', $kid;
    waitpid $kid, 0;
    like($trace, qr/Breakpoint 1, ngx_iot_store_history_add/,
         'the worker was killed as its history writer started a batch');

    ok(IoT::Test::wait_until(sub {
        my @w = $t->workers;
        return @w == 2 && !grep { $_ == $w } @w;
    }, 30), 'the master started a new worker');

    $send->("after $_") for 1 .. 20;

    my ($c, $n);
    ok(IoT::Test::wait_until(sub {
        $c = $counters->();
        $n = $stored->();
        return ($c->{unrecorded} // 0) > 0
               && ($c->{received} // -1) == $n + $c->{unrecorded};
    }, 30), 'every uplink taken in is stored or counted as unrecorded')
        or diag(json_encode($c) . " stored $n");

    like($t->read_log, qr/iot history: \d+ messages taken in by process $w, which is gone, were not recorded/,
         'the log says how many the killed worker took with it');

    $t->check_log('killed', allow => [qr/exited on signal 9/]);
    $t->finish;
}

# ---- retention under load from both workers
{
    my ($t, $api, $send, $counters, $stored, $up) =
        setup(main_conf => "iot_history_max_count $MAX;\n");

    # long enough for several retention runs while both workers write
    my $sent = 0;
    my $until = time + 12;
    while (time < $until) {
        $send->('load ' . $sent++) for 1 .. 20;
        sleep 0.01;
    }

    # what the kernel itself dropped (a full receive buffer of a slow,
    # e.g. sanitized, nginx) never reached nginx to be counted
    my $c;
    my $kernel;
    ok(IoT::Test::wait_until(sub {
        $c = $counters->();
        $kernel = udp_drops($up);
        ($c->{received} // 0) + ($c->{unrecorded} // 0) + $kernel >= $sent
            || ($c->{received} // 0) == $sent;
    }, 30), "the $sent uplinks were taken in")
        or diag(json_encode($c) . " kernel drops $kernel");

    my $n;
    ok(IoT::Test::wait_until(sub { ($n = $stored->()) == $MAX }, 30),
       "the history keeps the newest $MAX") or diag("$n stored");

    my @locked = $t->read_log =~ /(trimming messages: [^\n]*)/g;
    is_deeply(\@locked, [], 'the trim never lost to the writers');

    $t->check_log('load');
    $t->finish;
}

done_testing;
