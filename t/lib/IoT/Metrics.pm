package IoT::Metrics;

# A strict reader of the Prometheus text format (version 0.0.4) for the
# tests of the iot_metrics endpoint (t/25-metrics.t): every line is a
# comment (# HELP, # TYPE, or any other comment) or a sample
# `name{label="value",...} value`; a family's HELP and TYPE come at most
# once each and before its samples; a family's samples are not split by
# another family's; no series twice; a counter's name ends in _total.
# Whatever breaks a rule is returned as an error, never skipped.
#
#   my ($m, $err) = IoT::Metrics::parse($text);
#   die $err if $err;
#   my $v = IoT::Metrics::value($m, 'nginx_iot_uplinks_total',
#                               { transport => 'udp' });   # undef: none
#   my @s = IoT::Metrics::samples($m, 'nginx_iot_worker_websocket_streams');

use strict;
use warnings;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $VALUE = qr/[+-]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|Inf|NaN)/;

# (\%metrics, undef) or (undef, "line N: what is wrong")
sub parse {
    my ($text) = @_;

    return (undef, 'empty') unless defined $text && length $text;
    return (undef, 'the text does not end with a newline')
        unless $text =~ /\n\z/;

    my %fam;            # name => {type, help, samples => [...], done}
    my %series;
    my $current = '';
    my $n = 0;

    for my $line (split /\n/, substr($text, 0, -1), -1) {
        $n++;
        return (undef, "line $n: empty line") if $line eq '';

        if ($line =~ /^#/) {
            if ($line =~ /^# (HELP|TYPE) ($NAME)(?: (.*))?\z/) {
                my ($what, $name, $rest) = ($1, $2, $3 // '');
                my $f = $fam{$name} //= { samples => [] };
                return (undef, "line $n: $what of $name after its samples")
                    if @{ $f->{samples} };
                return (undef, "line $n: a second $what of $name")
                    if exists $f->{lc $what};
                if ($what eq 'TYPE') {
                    return (undef, "line $n: unknown type '$rest'")
                        unless $rest =~ /^(counter|gauge|histogram|summary|untyped)\z/;
                    return (undef, "line $n: counter $name without _total")
                        if $rest eq 'counter' && $name !~ /_total\z/;
                } else {
                    return (undef, "line $n: bad escape in HELP")
                        if $rest =~ /\\(?![\\n])/;
                }
                $f->{lc $what} = $rest;
                $fam{$current}{done} = 1
                    if $current ne '' && $current ne $name;
                return (undef, "line $n: $name comes back after another family")
                    if $f->{done};
                $current = $name;
                next;
            }
            return (undef, "line $n: malformed HELP or TYPE")
                if $line =~ /^#\s*(HELP|TYPE)\b/;
            next;    # any other comment
        }

        my ($name, $labels, $value) =
            $line =~ /^($NAME)(\{[^\n]*\})? ($VALUE)(?: -?[0-9]+)?\z/
            or return (undef, "line $n: not a sample: $line");

        my %l;
        if (defined $labels) {
            my $in = substr($labels, 1, -1);
            while (length $in) {
                $in =~ s/^($LABEL)="((?:[^"\\\n]|\\[\\"n])*)"// or
                    return (undef, "line $n: malformed labels: $labels");
                my ($k, $v) = ($1, $2);
                return (undef, "line $n: label $k twice") if exists $l{$k};
                $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
                $l{$k} = $v;
                last unless length $in;
                $in =~ s/^,// or
                    return (undef, "line $n: malformed labels: $labels");
            }
        }

        my $f = $fam{$name};
        return (undef, "line $n: $name has no TYPE before its samples")
            unless $f && defined $f->{type};
        $fam{$current}{done} = 1 if $current ne '' && $current ne $name;
        return (undef, "line $n: $name comes back after another family")
            if $f->{done};
        $current = $name;

        my $key = join "\0", $name,
                  map { "$_=$l{$_}" } sort keys %l;
        return (undef, "line $n: the series is there twice: $line")
            if $series{$key}++;

        push @{ $f->{samples} }, { labels => \%l, value => 0 + $value };
    }

    return (\%fam, undef);
}

# the value of the series with exactly these labels, or undef
sub value {
    my ($m, $name, $labels) = @_;
    $labels //= {};
    my $f = $m->{$name} or return undef;
    for my $s (@{ $f->{samples} }) {
        my $l = $s->{labels};
        next unless keys %$l == keys %$labels;
        next if grep { !exists $l->{$_} || $l->{$_} ne $labels->{$_} }
                keys %$labels;
        return $s->{value};
    }
    return undef;
}

# every sample of a family: ({labels => {...}, value => N}, ...)
sub samples {
    my ($m, $name) = @_;
    my $f = $m->{$name} or return ();
    return @{ $f->{samples} };
}

1;
