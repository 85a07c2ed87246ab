using Microsoft.VisualStudio.TestTools.UnitTesting;

// Test classes run side by side, one per core (Workers = 0: as many as the machine has); the tests of one class run
// one after the other, in one worker, so a class may publish a project once (ClassInitialize) and have several tests
// read it. Everything a test touches is its own: temporary folders, runc container ids and state folders, registry
// ports, containerd instances, image names. A test that changes something other tests read or use (a host file they
// check, a mount outside its own folder, a container or image name another test uses too, a system setting) carries
// [DoNotParallelize]: MSTest runs those alone, after the rest.
// README ("Running the tests") says how a new end-to-end test fits this.
[assembly: Parallelize(Workers = 0, Scope = ExecutionScope.ClassLevel)]
