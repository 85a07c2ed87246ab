using Microsoft.Build.Framework;
using OciBundle.Diagnostics;
using OciBundle.Request;

namespace OciBundle.Tasks;

/// <summary>
/// The boolean properties, checked before anything else runs: each item is a property name with its value in
/// <c>Value</c>; anything but <c>true</c> or <c>false</c> is OCIB1200 naming the property.
/// </summary>
public sealed class CheckOciBundleSwitches : Microsoft.Build.Utilities.Task
{
    [Required]
    public ITaskItem[] Switches { get; set; } = Array.Empty<ITaskItem>();

    public override bool Execute()
    {
        foreach (ITaskItem item in Switches)
        {
            string value = item.GetMetadata("Value");
            if (BooleanText.Parse(value) is null)
            {
                Log.LogError(null, Strings.InvalidBoolean.Code, null, null, 0, 0, 0, 0, Strings.InvalidBoolean.Format(item.ItemSpec, value));
            }
        }

        return !Log.HasLoggedErrors;
    }
}
