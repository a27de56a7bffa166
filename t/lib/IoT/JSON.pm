package IoT::JSON;

# JSON as the tests see it: every dialect speaks JSON, and so do the status
# endpoints of the stream modules.  See t/README.md.
#
#   use IoT::JSON;
#   my $text = json_encode({ a => JTRUE });     # canonical (sorted keys)
#   my $v = json_decode($text);                 # undef if it is not JSON
#   ok(is_bool_value($v->{a}, 1));              # a JSON true, not 1
#   is_deeply(plain($v), { a => 1 });           # booleans as 0/1

use strict;
use warnings;

use Exporter 'import';
use JSON::XS;

our @EXPORT = qw(JTRUE JFALSE json_encode json_decode is_bool_value plain);

use constant JTRUE  => JSON::XS::true;
use constant JFALSE => JSON::XS::false;

my $JSON = JSON::XS->new->utf8->canonical;

sub json_encode { $JSON->encode($_[0]) }
sub json_decode { my $j = eval { $JSON->decode($_[0]) }; $j }

# a JSON boolean (and, with $want, that one)
sub is_bool_value {
    my ($v, $want) = @_;
    return 0 unless JSON::XS::is_bool($v);
    return defined $want ? (($v ? 1 : 0) == ($want ? 1 : 0)) : 1;
}

# JSON booleans to 0/1, for is_deeply against literal structures
sub plain {
    my ($v) = @_;
    if (JSON::XS::is_bool($v)) { return $v ? 1 : 0 }
    if (ref $v eq 'HASH')  { return { map { $_ => plain($v->{$_}) } keys %$v } }
    if (ref $v eq 'ARRAY') { return [ map { plain($_) } @$v ] }
    return $v;
}

1;
